{#- Where models land in the lake: nowhere readers look. Silver is built in <lake>/_staging/silver/<table>/
    (a folder of Parquet, hive-partitioned by `dt` where large: the build's working copy, read by the next
    incremental build), gold under gold_root(); `tweetlake publish` promotes both, once validation passed, to
    the Delta tables <lake>/silver/<table>/ and <lake>/gold/<table>/ (write-audit-publish: pipeline.publish).
    Build state: <lake>/_state/build/<table>/. -#}

{% macro lake_root() -%}
{{ var('lake', env_var('TWEETLAKE_LAKE', '../lake')) | replace('\\', '/') }}
{%- endmacro %}

{% macro gold_root() -%}
{{ var('gold_root', env_var('TWEETLAKE_GOLD_ROOT', lake_root() ~ '/_staging/gold')) }}
{%- endmacro %}

{% macro silver_location(name) -%}
{{ lake_root() }}/_staging/silver/{{ name }}
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
