{{ config(location=silver_location('cashtags'), partition_by='dt') }}
{#- One row per cashtag ($TWTR) in a tweet (its winning observation), apart from hashtags. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(cashtags) as c
    from winners
    where len(cashtags) > 0

),

new_rows as (

    select
        tweet_id,
        upper(c.tag) as tag,
        c.tag as tag_original,
        c.start as start_index,
        created_date
    from exploded
    where c.tag is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
