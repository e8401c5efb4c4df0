{#- The bronze files this build processes: every file on a full refresh, otherwise the files that
    _state/build/bronze_files does not list yet with the same size and modification time (a rewritten file,
    e.g. a rerun of the same run key, is processed again; every silver merge is idempotent). The state
    lives in the lake, so a deleted .duckdb file or a new machine changes nothing.
    With a bound (a sort key, macro bronze_sort_key) in the environment variable TWEETLAKE_BRONZE_UNTIL (or
    the var `bronze_until`), only the new files up to it: one batch of a large backlog (dbt_runtime/backlog.py;
    `tweetlake build` runs the batches, and sets the variable rather than a var: a changed env var makes dbt
    re-parse this file only, a changed var the whole project).
    Each new file is classified line by line as it is listed (tweetlake_classify, dbt_runtime/bronze_read.py;
    all in one call, on every core):
    which read takes it (page_path, single_path, flattened_path, counts_path: the file itself, a scratch file of its
    lines of that kind, or null) and the lines set aside (rejected: line, byte offset, shape guess, reason,
    head), which silver.rejected_pages keeps. -#}
{%- set processed = [] if should_full_refresh() else lake_table_files(state_location('bronze_files')) %}
{%- set until = var('bronze_until', env_var('TWEETLAKE_BRONZE_UNTIL', '')) %}

with source as (

    select unnest(tweetlake_ls('{{ bronze_glob() }}')) as f

),

files as (

    select
        f.path as path,
        {{ lake_relative('f.path') }} as bronze_file,
        f.size as size,
        f.mtime as mtime
    from source
    {%- if until %}
    where {{ bronze_sort_key(lake_relative('f.path')) }} <= '{{ until | replace("'", "''") }}'
    {%- endif %}

),

processed as (

    {% if processed -%}
    select bronze_file, size, mtime from read_parquet({{ sql_list(processed) }}, hive_partitioning = true)
    {%- else -%}
    select cast(null as varchar) as bronze_file, cast(null as bigint) as size, cast(null as varchar) as mtime
    where false
    {%- endif %}

),

new_files as (

    select
        files.*,
        -- the file's number in this build (part of page_id, macro page_id)
        row_number() over (order by files.path) as file_id
    from files
    anti join processed using (bronze_file, size, mtime)

),

classifications as materialized (

    -- one call with every new file, so the files are classified in parallel (in file_id order);
    -- materialized: each file is classified once, however many of its fields are read
    select tweetlake_classify(list({'path': path, 'size': size, 'mtime': mtime} order by file_id)) as c
    from new_files

),

classified as (

    select new_files.*, classifications.c[new_files.file_id] as c
    from new_files
    cross join classifications

)

select
    path,
    bronze_file,
    size,
    mtime,
    file_id,
    cast(regexp_extract(bronze_file, 'ingest_date=([0-9-]+)', 1) as date) as ingest_date,
    c.page as page_path,
    c.single as single_path,
    c.flattened as flattened_path,
    c.counts as counts_path,
    c.lines as lines,
    c.rejected as rejected
from classified
-- a file gone since it was listed (lines null, dbt_runtime/bronze_read.classify_file): not read, not recorded
where c.lines is not null
