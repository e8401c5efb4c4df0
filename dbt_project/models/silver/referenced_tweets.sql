{{ config(location=silver_location('referenced_tweets'), partition_by='dt') }}
{#- One row per tweet referenced by a tweet (replied to, quoted, retweeted), with the referenced tweet's
    author and text when the same page's includes.tweets carries it (is_available; a deleted or protected
    tweet is only known by its id, and the page's errors say why). -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

included as (

    select page_id, tweet_id, any_value(author_id) as author_id, any_value(text) as text
    from {{ ref('stg_included_tweets') }}
    group by page_id, tweet_id

),

exploded as (

    select page_id, tweet_id, created_date, unnest(refs) as r
    from winners
    where len(refs) > 0

),

new_rows as (

    select
        exploded.tweet_id,
        exploded.r.id as referenced_tweet_id,
        exploded.r.type as reference_type,
        included.author_id as referenced_author_id,
        included.text as referenced_text,
        included.tweet_id is not null as is_available,
        exploded.created_date
    from exploded
    left join included
        on included.page_id = exploded.page_id
        and included.tweet_id = exploded.r.id
    where exploded.r.id is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
