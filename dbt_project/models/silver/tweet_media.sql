{{ config(location=silver_location('tweet_media'), partition_by='dt') }}
{#- One row per media item attached to a tweet (attachments.media_keys of its winning observation), in the order attached (position from 1); the media themselves are silver.media. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(media_keys) as media_key, generate_subscripts(media_keys, 1) as position
    from winners
    where len(media_keys) > 0

),

new_rows as (

    select tweet_id, media_key, position, created_date
    from exploded
    where media_key is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
