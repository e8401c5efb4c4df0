{#- The ONE JSON scan of a build: the new bronze files (stg_bronze_files), parsed with the explicit narrow
    schema into a DuckDB table every other staging model reads. -#}
-- depends_on: {{ source('bronze', 'pages') }}
-- depends_on: {{ ref('stg_bronze_files') }}
{%- set files = [] -%}
{%- if execute and load_relation(ref('stg_bronze_files')) is not none -%}
  {%- set files = run_query('select path from ' ~ ref('stg_bronze_files') ~ ' order by 1').columns[0].values() | list -%}
{%- endif %}

with source as (

    {{ read_bronze(files) }}

),

renamed as (

    select
        -- a page's id within this build: tweets find their author among the same page's users by it
        row_number() over () as page_id,
        {{ lake_relative('filename') }} as bronze_file,
        ingest_date,
        envelope.source as source,
        envelope.endpoint as endpoint,
        envelope.stream as stream,
        envelope.run_id as run_id,
        envelope.run_key as run_key,
        coalesce(envelope.page_number, 0) as page_number,
        cast(envelope.fetched_at as timestamptz) as observed_at,
        response.data as tweets,
        response.includes.users as included_users,
        response.includes.tweets as included_tweets,
        response.errors as errors
    from source

)

select * from renamed
