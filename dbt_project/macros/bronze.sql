{#- Reading bronze: the explicit schema, one definition in parts (models/staging/__sources.yml meta). -#}

{#- the `columns` argument of read_json for one of the two reads a build makes of each new file (the
    whole page is the source's own external_location, which the benchmark floor reads):
    tweets  the envelope, response.data, and the id and username of includes.users (stg_bronze_tweets:
            a tweet's author is looked up in its own page);
    pages   the envelope, includes and errors, and of response.data only the ids (stg_bronze_pages).
    Each read parses only what it keeps: two narrow reads of a file cost less than one wide read whose
    nested lists of tweets must be materialized for everything downstream. -#}
{% macro bronze_columns(kind) -%}
  {%- if not execute -%}{{ return("{'envelope': 'json', 'response': 'json'}") }}{%- endif -%}
  {%- for node in graph.sources.values() if node.source_name == 'bronze' and node.name == 'pages' -%}
    {%- set meta = node.source_meta -%}
    {%- set data = meta['tweet'] if kind == 'tweets' else 'struct(id varchar)' -%}
    {%- set rest = ', includes struct(users ' ~ meta['page_user'] ~ '[])' if kind == 'tweets' else
          ', includes struct(users ' ~ meta['user'] ~ '[], tweets ' ~ meta['included_tweet'] ~ '[]), errors '
          ~ meta['error'] ~ '[]' -%}
    {{ return("{'envelope': '" ~ meta['envelope'] | trim ~ "', 'response': 'struct(data " ~ data | trim ~ "[]"
              ~ rest ~ ")'}") }}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error('source bronze.pages not found') }}
{%- endmacro %}


{#- read_json over the given bronze files with the columns of `kind`, plus the hive partition columns and
    the file name; an empty relation with the same columns when there are no files -#}
{% macro read_bronze(files, kind) -%}
  {%- if files | length > 0 -%}
    select * from read_json({{ sql_list(files) }}, format = 'newline_delimited', hive_partitioning = true,
      hive_types = {'source': 'varchar', 'endpoint': 'varchar', 'stream': 'varchar', 'ingest_date': 'date'},
      filename = true, columns = {{ bronze_columns(kind) }})
  {%- else -%}
    {%- set columns = fromyaml(bronze_columns(kind)) -%}
    select
      {%- for name, type in columns.items() %}
      cast(null as {{ type }}) as {{ name }},
      {%- endfor %}
      cast(null as varchar) as source, cast(null as varchar) as endpoint, cast(null as varchar) as stream,
      cast(null as date) as ingest_date, cast(null as varchar) as filename
    where false
  {%- endif -%}
{%- endmacro %}


{#- the paths of the bronze files this build reads (stg_bronze_files), sorted -#}
{% macro bronze_files_to_read() -%}
  {%- if execute and load_relation(ref('stg_bronze_files')) is not none -%}
    {{ return(run_query('select path from ' ~ ref('stg_bronze_files') ~ ' order by 1').columns[0].values() | list) }}
  {%- endif -%}
  {{ return([]) }}
{%- endmacro %}


{#- The pages of the bronze files this build reads (stg_bronze_files), read with the columns of `kind`:
    the envelope's fields and the response as parsed. page_id is the file's number in this build
    (stg_bronze_files.file_id) and the page number, so both reads of a file agree on it; a tweet finds its
    author among the same page's users by it. A model calling this declares
    `-- depends_on: {{ ref('stg_bronze_files') }}` and `-- depends_on: {{ source('bronze', 'pages') }}`. -#}
{% macro bronze_pages(kind) -%}
    select
        (cast(files.file_id as bigint) << 32) + coalesce(bronze.envelope.page_number, 0) as page_id,
        {{ lake_relative('bronze.filename') }} as bronze_file,
        bronze.ingest_date,
        bronze.envelope.source as source,
        bronze.envelope.endpoint as endpoint,
        bronze.envelope.stream as stream,
        bronze.envelope.run_id as run_id,
        bronze.envelope.run_key as run_key,
        coalesce(bronze.envelope.page_number, 0) as page_number,
        cast(bronze.envelope.fetched_at as timestamptz) as observed_at,
        bronze.response
    from ({{ read_bronze(bronze_files_to_read(), kind) }}) as bronze
    inner join {{ ref('stg_bronze_files') }} as files on files.path = bronze.filename
{%- endmacro %}


{#- a bronze path relative to the lake root (bronze/source=.../x.jsonl): the lake may move -#}
{% macro lake_relative(expression) -%}
  substr({{ expression }}, strpos({{ expression }}, '/bronze/source=') + 1)
{%- endmacro %}


{#- the order in which a backlog is cut into batches (dbt_runtime/backlog.py, BronzeFile.sort_key):
    `<ingest_date>/<bronze_file>`, so a batch covers a few days of every stream -#}
{% macro bronze_sort_key(bronze_file) -%}
  regexp_extract({{ bronze_file }}, 'ingest_date=([0-9-]+)', 1) || '/' || {{ bronze_file }}
{%- endmacro %}


{#- the order in which observations of the same thing win: latest fetch first, then deterministic -#}
{% macro latest_first() -%}
  observed_at desc, bronze_file desc, page_number desc, position desc
{%- endmacro %}

{#- the same order as one comparable value: the latest observation has the largest (arg_max) -#}
{% macro latest_key() -%}
  {'observed_at': observed_at, 'bronze_file': bronze_file, 'page_number': page_number, 'position': position}
{%- endmacro %}


{#- Twitter escapes &, < and > in text (and some clients ", '): undo it, &amp; last -#}
{% macro unescape_html(expression) -%}
  replace(replace(replace(replace(replace(replace({{ expression }}, '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&apos;', ''''), '&amp;', '&')
{%- endmacro %}


{#- text for analysis: no `RT @x:` prefix, no URLs, no @mentions, hashtags as plain words, one space.
    Whitespace: runs of two or more, and single tabs or newlines (RE2's \s is [\t\n\f\r ]), become one
    space; the same result as replacing every \s+, without rewriting each single space (half the cost). -#}
{% macro clean_text(expression) -%}
  trim(regexp_replace(regexp_replace({{ expression }}, '^RT @\w+:\s*|https?://\S+|@\w+|#', '', 'g'), '\s\s+|[\t\n\f\r]', ' ', 'g'))
{%- endmacro %}
