{{ config(location=silver_location('rejected_pages')) }}
{#- The bronze lines the build set aside (dbt_runtime/bronze_read.py, stg_bronze_files.rejected): malformed
    or truncated JSON, none of the shapes, a value that fails its cast. One row per line, as long as its
    file is in bronze unchanged: a file read again (rewritten) brings its own rejections, and a file that
    is gone (a re-ingest of its window replaced it) takes its rejections with it. Small, so one
    unpartitioned table, rewritten by every build. -#}
-- depends_on: {{ ref('stg_bronze_files') }}
{%- set existing = lake_existing() if lake_is_incremental() else none %}

with new_files as (

    select bronze_file, size, mtime, unnest(rejected) as r
    from {{ ref('stg_bronze_files') }}
    where len(rejected) > 0

),

renamed as (

    select
        bronze_file,
        r.line as line,
        r.byte_offset as byte_offset,
        r.shape_guess as shape_guess,
        r.reason as reason,
        r.head as head,
        r.tweets_guess as tweets_guess,
        regexp_extract(bronze_file, 'source=([^/]+)', 1) as source,
        size as file_size,
        mtime as file_mtime,
        current_timestamp as rejected_at
    from new_files

),

merged as (

    select * from renamed
    {%- if existing %}
    union all by name
    select * from {{ existing }} as kept
    -- still in bronze, and not read again by this build
    where kept.bronze_file in (select {{ lake_relative('f.path') }} from (select unnest(tweetlake_ls('{{ bronze_glob() }}')) as f))
      and kept.bronze_file not in (select bronze_file from {{ ref('stg_bronze_files') }})
    {%- endif %}

)

select * from merged
