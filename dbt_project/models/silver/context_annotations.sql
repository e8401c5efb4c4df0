{{ config(location=silver_location('context_annotations'), partition_by='dt') }}
{#- One row per context annotation of a tweet (X's topic classification: a domain, e.g. 'Brand', and an entity in it, e.g. 'Twitter'), from its winning observation. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(context_annotations) as a
    from winners
    where len(context_annotations) > 0

),

new_rows as (

    select
        tweet_id,
        a.domain.id as domain_id,
        a.domain.name as domain_name,
        a.entity.id as entity_id,
        a.entity.name as entity_name,
        created_date
    from exploded
    where a.domain.id is not null or a.entity.id is not null

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
