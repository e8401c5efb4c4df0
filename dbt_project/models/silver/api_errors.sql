{{ config(location=silver_location('api_errors')) }}
{#- The partial errors of the API pages: what could not be fetched (resource, parameter, value) and why.
    Small (about one error per hundred tweets), so one unpartitioned table. Keyed by the run's deterministic
    run_key, page and position: rerunning a run (same window, same watermark, same replayed file) replaces
    its bronze pages, and here every error of that run is replaced too, whatever day the rerun happens. -#}
-- depends_on: {{ ref('stg_bronze_pages') }}
{%- set existing = lake_existing() if lake_is_incremental() else none %}

with pages as (

    select * from {{ ref('stg_bronze_pages') }}
    where len(errors) > 0

),

exploded as (

    select
        bronze_file, source, endpoint, stream, run_id, run_key, page_number, observed_at,
        unnest(errors) as e,
        generate_subscripts(errors, 1) as position
    from pages

),

renamed as (

    select
        md5(concat_ws('|', source, endpoint, stream, run_key, page_number, position)) as error_key,
        e.title as title,
        e.detail as detail,
        e.type as type,
        e.resource_type as resource_type,
        e.resource_id as resource_id,
        e.parameter as parameter,
        e.value as value,
        source,
        endpoint,
        stream,
        observed_at as fetched_at,
        run_id,
        run_key,
        bronze_file
    from exploded

),

runs_seen as (

    -- every run this build read pages of, with or without errors: their earlier errors are superseded
    select distinct source, endpoint, stream, run_key from {{ ref('stg_bronze_pages') }}

),

merged as (

    select * from renamed
    {%- if existing %}
    union all by name
    select * from {{ existing }} as kept
    where not exists (
        select 1 from runs_seen
        where runs_seen.source = kept.source and runs_seen.endpoint = kept.endpoint
          and runs_seen.stream = kept.stream and runs_seen.run_key is not distinct from kept.run_key
    )
    {%- endif %}

)

select * from merged
