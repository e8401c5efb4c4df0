{#- Reading bronze: the explicit schema (one definition, in models/silver/__sources.yml meta.columns). -#}

{% macro bronze_columns() -%}
  {%- if not execute -%}{{ return("{'envelope': 'json', 'response': 'json'}") }}{%- endif -%}
  {%- for node in graph.sources.values() if node.source_name == 'bronze' and node.name == 'pages' -%}
    {{ return(node.source_meta['columns'] | trim) }}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error('source bronze.pages not found') }}
{%- endmacro %}


{#- read_json over the given bronze files, or an empty relation with the same columns when none -#}
{% macro read_bronze(files) -%}
  {%- if files | length > 0 -%}
    select * from read_json({{ sql_list(files) }}, format = 'newline_delimited', hive_partitioning = true,
      hive_types = {'source': 'varchar', 'endpoint': 'varchar', 'stream': 'varchar', 'ingest_date': 'date'},
      filename = true, columns = {{ bronze_columns() }})
  {%- else -%}
    {%- set columns = fromyaml(bronze_columns()) -%}
    select
      {%- for name, type in columns.items() %}
      cast(null as {{ type }}) as {{ name }},
      {%- endfor %}
      cast(null as varchar) as source, cast(null as varchar) as endpoint, cast(null as varchar) as stream,
      cast(null as date) as ingest_date, cast(null as varchar) as filename
    where false
  {%- endif -%}
{%- endmacro %}


{#- a bronze path relative to the lake root (bronze/source=.../x.jsonl): the lake may move -#}
{% macro lake_relative(expression) -%}
  substr({{ expression }}, strpos({{ expression }}, '/bronze/source=') + 1)
{%- endmacro %}


{#- the order in which observations of the same thing win: latest fetch first, then deterministic -#}
{% macro latest_first() -%}
  observed_at desc, bronze_file desc, page_number desc, position desc
{%- endmacro %}


{#- Twitter escapes &, < and > in text (and some clients ", '): undo it, &amp; last -#}
{% macro unescape_html(expression) -%}
  replace(replace(replace(replace(replace(replace({{ expression }}, '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&apos;', ''''), '&amp;', '&')
{%- endmacro %}


{#- text for analysis: no `RT @x:` prefix, no URLs, no @mentions, hashtags as plain words, one space -#}
{% macro clean_text(expression) -%}
  trim(regexp_replace(regexp_replace({{ expression }}, '^RT @\w+:\s*|https?://\S+|@\w+|#', '', 'g'), '\s+', ' ', 'g'))
{%- endmacro %}
