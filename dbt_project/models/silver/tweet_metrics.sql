{{ config(location=silver_location('tweet_metrics'), partition_by='dt') }}
{#- Every observation of a tweet's public metrics: one row per tweet, observation time and stream.
    Partitioned by the observation's date: new observations land in new partitions, so an incremental
    build touches only those (merged with what they already hold, which makes reprocessing idempotent). -#}
-- depends_on: {{ ref('stg_tweets') }}
{%- set incremental = lake_is_incremental() -%}
{%- set partitions = distinct_values(ref('stg_tweets'), 'cast(observed_at as date)') if incremental else none -%}
{%- set existing = lake_existing(partitions) if incremental else none %}

with observations as (

    select * from {{ ref('stg_tweets') }}

),

renamed as (

    select
        tweet_id,
        observed_at,
        like_count,
        retweet_count,
        reply_count,
        quote_count,
        impression_count,
        bookmark_count,
        source,
        endpoint,
        stream,
        bronze_file,
        page_number,
        position
    from observations

),

{% if existing -%}
existing as (

    select * exclude (dt), 2147483647 as page_number, 2147483647 as position
    from {{ existing }}

),

combined as (

    select * from renamed
    union all by name
    select * from existing

),
{%- else -%}
combined as (

    select * from renamed

),
{%- endif %}

-- the same observation twice (a page ingested again): rare, so only those keys go through a window,
-- not every row
repeated as (

    select tweet_id, observed_at, stream
    from combined
    group by tweet_id, observed_at, stream
    having count(*) > 1

),

deduplicated as (

    select * exclude (page_number, position)
    from combined
    anti join repeated using (tweet_id, observed_at, stream)
    union all
    select * exclude (page_number, position)
    from combined
    semi join repeated using (tweet_id, observed_at, stream)
    qualify row_number() over (
        partition by tweet_id, observed_at, stream order by bronze_file desc, page_number desc, position desc
    ) = 1

)

select *, cast(observed_at as date) as dt from deduplicated
