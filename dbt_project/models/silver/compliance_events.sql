{{ config(location=silver_location('compliance_events')) }}
{#- What batch compliance jobs said of the lake's posts and users (`tweetlake compliance`): one row per id,
    its latest event. Read whole from the jobs' results as downloaded (small: only ids with an event are
    listed), so an empty lake of results gives an empty table, never a missing one. -#}
{%- set files = lake_ls(compliance_results_glob()) %}

with source as (

    {% if files -%}
    select * from read_json(
        {{ sql_list(files) }},
        format = 'newline_delimited', hive_partitioning = true, filename = true,
        columns = {'id': 'varchar', 'action': 'varchar', 'reason': 'varchar', 'created_at': 'varchar',
                   'redacted_at': 'varchar'}
    )
    {%- else -%}
    select
        cast(null as varchar) as id, cast(null as varchar) as action, cast(null as varchar) as reason,
        cast(null as varchar) as created_at, cast(null as varchar) as redacted_at,
        cast(null as varchar) as "type", cast(null as varchar) as filename
    where false
    {%- endif %}

),

renamed as (

    select
        cast(id as varchar) as id,
        cast("type" as varchar) as id_type,
        action,
        reason,
        cast(created_at as timestamptz) as created_at,
        cast(redacted_at as timestamptz) as redacted_at,
        regexp_extract(filename, '([^/]+)\.jsonl$', 1) as job_id
    from source

)

select * from renamed
qualify row_number() over (partition by id_type, id order by redacted_at desc nulls last, job_id desc) = 1
