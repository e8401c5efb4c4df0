{{ config(location=silver_location('annotations'), partition_by='dt') }}
{#- One row per named-entity annotation of a tweet's text (entities.annotations: a Person, Place, Product, Organization or Other, with the model's probability), from its winning observation. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
-- depends_on: {{ ref('tweets') }}
{%- set partitions = entity_partitions() %}

with winners as (

    {{ winning_observations(partitions) }}

),

exploded as (

    select tweet_id, created_date, unnest(annotations) as a
    from winners
    where len(annotations) > 0

),

new_rows as (

    select
        tweet_id,
        a.type as annotation_type,
        a.normalized_text as normalized_text,
        a.probability as probability,
        a.start as start_index,
        a.end as end_index,
        created_date
    from exploded

),

merged as (

    {{ merge_entities(partitions) }}

)

select *, created_date as dt from merged
