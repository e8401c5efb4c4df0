{#- Where models land in the lake. Silver: <lake>/silver/<table>/ (a folder of Parquet, hive-partitioned
    by `dt` where large). Gold is built aside under gold_root() and published to <lake>/gold/ by
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

{% macro gold_location(name) -%}
{{ gold_root() }}/{{ name }}.parquet
{%- endmacro %}

{% macro bronze_glob() -%}
{{ lake_root() }}/bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl
{%- endmacro %}
