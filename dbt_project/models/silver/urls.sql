{{ config(location=silver_location('urls'), partition_by='dt') }}
{#- One row per URL in a tweet (its latest observation), with the expanded URL's domain. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(urls) as u
    from winners
    where len(urls) > 0

),

new_rows as (

    select
        tweet_id,
        u.url as url,
        u.expanded_url as expanded_url,
        u.display_url as display_url,
        nullif(lower(regexp_extract(coalesce(u.expanded_url, u.url), '^[a-zA-Z]+://(?:www\.)?([^/:?#]+)', 1)), '')
            as domain,
        u.start as start_index,
        created_date
    from exploded
    where u.url is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
