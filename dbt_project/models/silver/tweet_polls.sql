{{ config(location=silver_location('tweet_polls'), partition_by='dt') }}
{#- One row per poll attached to a tweet (attachments.poll_ids); the polls are silver.polls. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(poll_ids) as poll_id
    from winners
    where len(poll_ids) > 0

),

new_rows as (

    select tweet_id, poll_id, created_date
    from exploded
    where poll_id is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
