{{ config(location=silver_location('hashtags'), partition_by='dt') }}
{#- One row per hashtag occurrence in a tweet (its latest observation). -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(hashtags) as h
    from winners
    where len(hashtags) > 0

),

new_rows as (

    select
        tweet_id,
        lower(h.tag) as tag,
        h.tag as tag_original,
        h.start as start_index,
        created_date
    from exploded
    where h.tag is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
