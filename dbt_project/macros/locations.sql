{#- Where models land in the lake. Silver: <lake>/silver/<table>/. Gold is built aside under gold_root()
    and published to <lake>/gold/ by `tweetlake publish` once validation passes (write-audit-publish). -#}

{% macro lake_root() -%}
{{ var('lake', env_var('TWEETLAKE_LAKE', '../lake')) }}
{%- endmacro %}

{% macro gold_root() -%}
{{ var('gold_root', env_var('TWEETLAKE_GOLD_ROOT', lake_root() ~ '/_staging/gold')) }}
{%- endmacro %}

{% macro silver_location(name) -%}
{{ lake_root() }}/silver/{{ name }}/{{ name }}.parquet
{%- endmacro %}

{% macro gold_location(name) -%}
{{ gold_root() }}/{{ name }}.parquet
{%- endmacro %}
