{{ config(location=silver_location('mentions'), partition_by='dt') }}
{#- One row per @mention in a tweet (its latest observation). -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(mentions) as m
    from winners
    where len(mentions) > 0

),

new_rows as (

    select
        tweet_id,
        m.id as mentioned_user_id,
        m.username as mentioned_username,
        m.start as start_index,
        created_date
    from exploded
    where m.username is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
