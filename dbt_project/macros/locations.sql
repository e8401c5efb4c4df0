{#- Where models land in the lake. Silver: <lake>/silver/<table>/ (a folder of Parquet, hive-partitioned
    by `dt` where large). Build state: <lake>/_state/build/<table>/. Gold is built aside under gold_root() and published to <lake>/gold/ by
    `tweetlake publish` once validation passes (write-audit-publish). -#}

{% macro lake_root() -%}
{{ var('lake', env_var('TWEETLAKE_LAKE', '../lake')) | replace('\\', '/') }}
{%- endmacro %}

{% macro gold_root() -%}
{{ var('gold_root', env_var('TWEETLAKE_GOLD_ROOT', lake_root() ~ '/_staging/gold')) }}
{%- endmacro %}

{% macro silver_location(name) -%}
{{ lake_root() }}/silver/{{ name }}
{%- endmacro %}

{#- What a build keeps between builds (the bronze files processed, the sentiment cache): pipeline state,
    not tables for users, in <lake>/_state/build/<name>/ (foundation.layout.BUILD_STATE). -#}
{% macro state_location(name) -%}
{{ lake_root() }}/_state/build/{{ name }}
{%- endmacro %}

{% macro gold_location(name) -%}
{{ gold_root() }}/{{ name }}.parquet
{%- endmacro %}

{% macro bronze_glob() -%}
{{ lake_root() }}/bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl
{%- endmacro %}

{#- Batch compliance results as downloaded, one file per job (ingestion.compliance; foundation.layout.COMPLIANCE) -#}
{% macro compliance_results_glob() -%}
{{ lake_root() }}/_state/compliance/results/type=*/*.jsonl
{%- endmacro %}
