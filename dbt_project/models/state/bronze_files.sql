{{ config(location=state_location('bronze_files'), partition_by='dt') }}
{#- The bronze files silver has processed (path relative to the lake, size, modification time): the
    state of incremental builds, kept in the lake. Built LAST, after every other silver table, so a failed
    build leaves these files unrecorded and the next build processes them again. -#}
-- depends_on: {{ ref('stg_bronze_files') }}
-- depends_on: {{ ref('tweets') }}
-- depends_on: {{ ref('users') }}
-- depends_on: {{ ref('tweet_metrics') }}
-- depends_on: {{ ref('hashtags') }}
-- depends_on: {{ ref('mentions') }}
-- depends_on: {{ ref('urls') }}
-- depends_on: {{ ref('referenced_tweets') }}
-- depends_on: {{ ref('api_errors') }}
-- depends_on: {{ ref('rejected_pages') }}
-- depends_on: {{ ref('tweet_counts') }}
-- depends_on: {{ ref('tweet_sentiment') }}
{%- set incremental = lake_is_incremental() -%}
{%- set partitions = distinct_values(ref('stg_bronze_files'), "cast(regexp_extract(bronze_file, 'ingest_date=([0-9-]+)', 1) as date)") if incremental else none -%}
{%- set existing = lake_existing(partitions) if incremental else none %}

with files as (

    select * from {{ ref('stg_bronze_files') }}

),

pages as (

    select
        bronze_file,
        count(*) as pages,
        sum(tweet_count) as tweets,
        sum(len(errors)) as errors,
        count(*) filter (where tweet_count = 0) as empty_pages
    from {{ ref('stg_bronze_pages') }}
    group by bronze_file

),

renamed as (

    select
        files.bronze_file,
        files.size,
        files.mtime,
        cast(regexp_extract(files.bronze_file, 'ingest_date=([0-9-]+)', 1) as date) as ingest_date,
        coalesce(pages.pages, 0) as pages,
        coalesce(pages.tweets, 0) as tweets,
        coalesce(pages.errors, 0) as errors,
        coalesce(pages.empty_pages, 0) as empty_pages,
        current_timestamp as processed_at
    from files
    left join pages using (bronze_file)

),

merged as (

    select * from renamed
    {%- if existing %}
    union all by name
    select * exclude (dt) from {{ existing }}
    where bronze_file not in (select bronze_file from renamed)
    {%- endif %}

)

select *, ingest_date as dt from merged
