{{ config(location=silver_location('tweet_counts')) }}
{#- What the counts endpoints said: posts matching each query per window (bucket), the latest fetch of each
    (query, granularity, window_start) winning (a later count of the same window is the API's newer answer:
    posts deleted since, or arrived late). Small (a row per query and day or hour), so one unpartitioned
    table, merged with what it held. -#}
{%- set existing = lake_existing() if lake_is_incremental() else none %}

with buckets as (

    select * exclude (page_number, position) from {{ ref('stg_bronze_counts') }}
    {%- if existing %}
    union all by name
    select * from {{ existing }}
    {%- endif %}

),

latest as (

    select *
    from buckets
    qualify row_number() over (
        partition by query, granularity, window_start
        order by fetched_at desc, bronze_file desc, tweet_count desc
    ) = 1

)

select * from latest
