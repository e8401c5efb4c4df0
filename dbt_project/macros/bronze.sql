{#- Reading bronze: the explicit schema, one definition in parts (models/staging/__sources.yml meta). -#}

{#- The `columns` argument of read_json for one of the two reads a build makes of each new file (the
    whole page is the source's own external_location, which the benchmark floor reads), by the read that
    takes the file (stg_bronze_files; dbt_runtime/bronze_read.py):
    kind    tweets  the envelope, the tweets, and the id and username of includes.users (stg_bronze_tweets:
                    a tweet's author is looked up in its own page);
            pages   the envelope, includes and errors, and of the tweets only the ids (stg_bronze_pages).
    read    page       `data` a list (pages, errors-only and empty messages);
            single     `data` one object (a lookup of one id, a stream message);
            flattened  the tweet itself at top level, its author and referenced tweets inlined (twarc2).
    Each read parses only what it keeps: two narrow reads of a file cost less than one wide read whose
    nested lists of tweets must be materialized for everything downstream. -#}
{% macro bronze_columns(kind, read='page') -%}
  {%- if not execute -%}{{ return("{'envelope': 'json', 'response': 'json'}") }}{%- endif -%}
  {%- for node in graph.sources.values() if node.source_name == 'bronze' and node.name == 'pages' -%}
    {%- set meta = node.source_meta -%}
    {%- set fields = meta['tweet_fields'] | trim -%}
    {%- set tweet = 'struct(' ~ fields ~ ', referenced_tweets ' ~ meta['reference'] | trim ~ '[])' -%}
    {%- set page_user = meta['page_user'] | trim -%}
    {%- set user = meta['user'] | trim -%}
    {%- if kind == 'tweets' -%}
      {#- the tweets read: the tweets of `data` and of includes.tweets (observations too), and the page's
          user ids and usernames for their authors -#}
      {%- set includes = 'includes struct(users ' ~ page_user ~ '[], tweets ' ~ tweet ~ '[])' -%}
      {%- set errors = '' -%}
      {%- set data = tweet -%}
    {%- else -%}
      {%- set includes = 'includes struct(users ' ~ user ~ '[], tweets ' ~ meta['included_tweet'] | trim
            ~ '[], media ' ~ meta['media'] | trim ~ '[], polls ' ~ meta['poll'] | trim ~ '[], places '
            ~ meta['place'] | trim ~ '[])' -%}
      {%- set errors = ', errors ' ~ meta['error'] | trim ~ '[]' -%}
      {%- set data = 'struct(id varchar)' -%}
    {%- endif -%}
    {%- if read == 'page' -%}
      {%- set response = 'struct(data ' ~ data ~ '[], ' ~ includes ~ errors ~ ')' -%}
    {%- elif read == 'single' -%}
      {%- set response = 'struct(data ' ~ data ~ ', ' ~ includes ~ errors ~ ')' -%}
    {%- elif kind == 'tweets' -%}
      {#- a flattened tweet: its own fields, its author, its references inlined whole with their authors -#}
      {%- set response = 'struct(' ~ fields ~ ', referenced_tweets struct(' ~ fields ~ ', "type" varchar, author '
            ~ page_user ~ ')[], author ' ~ page_user ~ ')' -%}
    {%- else -%}
      {#- its expansions as twarc2 flatten inlines them: the author, the referenced tweets (with their
          authors), attachments.media, attachments.poll, and geo holding the place itself -#}
      {%- set response = 'struct(id varchar, author ' ~ user ~ ', referenced_tweets struct(id varchar, "text" varchar, author_id varchar, note_tweet struct("text" varchar), author '
            ~ user ~ ')[], attachments struct(media ' ~ meta['media'] | trim ~ '[], poll ' ~ meta['poll'] | trim
            ~ '), geo ' ~ meta['place'] | trim ~ ')' -%}
    {%- endif -%}
    {{ return("{'envelope': '" ~ meta['envelope'] | trim ~ "', 'response': '" ~ response ~ "'}") }}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error('source bronze.pages not found') }}
{%- endmacro %}


{#- the response of a `read` as a page of that kind: `data` a list, includes, errors (bronze_columns) -#}
{% macro bronze_response(kind, read, response) -%}
  {%- if read == 'page' -%}
    {{ response }}
  {%- else -%}
    {%- set page_type = fromyaml(bronze_columns(kind, 'page'))['response'] -%}
    {#- a flattened tweet's inlined references (cast by name to the page's types: extra fields dropped),
        and its users: its author and theirs -#}
    {%- set refs = "coalesce(" ~ response ~ ".referenced_tweets, [])" -%}
    {%- set flat_users = "'users': list_filter(list_concat([" ~ response ~ ".author], list_transform(" ~ refs
          ~ ", lambda t: t.author)), lambda u: u is not null)" -%}
    {%- if read == 'single' -%}
      {%- set fields = "'data': case when " ~ response ~ ".data is null then [] else [" ~ response ~ ".data] end, "
            ~ "'includes': " ~ response ~ ".includes" ~ ("" if kind == 'tweets' else ", 'errors': " ~ response ~ ".errors") -%}
    {%- elif kind == 'tweets' -%}
      {%- set fields = "'data': [" ~ response ~ "], 'includes': {" ~ flat_users ~ ", 'tweets': " ~ refs ~ "}" -%}
    {%- else -%}
      {#- the expansions of the pages read: also its media, poll and place -#}
      {%- set fields = "'data': [{'id': " ~ response ~ ".id}], 'includes': {" ~ flat_users ~ ", "
            ~ "'tweets': " ~ refs ~ ", 'media': " ~ response ~ ".attachments.media, "
            ~ "'polls': case when " ~ response ~ ".attachments.poll.id is not null then [" ~ response ~ ".attachments.poll] end, "
            ~ "'places': case when " ~ response ~ ".geo.id is not null then [" ~ response ~ ".geo] end}, "
            ~ "'errors': null" -%}
    {%- endif -%}
    cast({ {{- fields -}} } as {{ page_type }})
  {%- endif -%}
{%- endmacro %}


{#- read_json over the given bronze files with the columns of `kind` and `read`, plus the file name; an
    empty relation with the same columns when there are no files -#}
{% macro read_bronze(files, kind, read='page') -%}
  {{ read_json_lines(files, bronze_columns(kind, read)) }}
{%- endmacro %}


{#- read_json over `files` with `columns` (a DuckDB struct literal of column types, as text), plus the
    file name; an empty relation with the same columns when there are no files -#}
{% macro read_json_lines(files, columns) -%}
  {%- if files | length > 0 -%}
    select * from read_json({{ sql_list(files) }}, format = 'newline_delimited', filename = true,
      columns = {{ columns }})
  {%- else -%}
    select
      {%- for name, type in fromyaml(columns).items() %}
      cast(null as {{ type }}) as {{ name }},
      {%- endfor %}
      cast(null as varchar) as filename
    where false
  {%- endif -%}
{%- endmacro %}


{#- the paths the `read` takes in this build (stg_bronze_files: a bronze file, or a scratch file of its
    lines of that kind), sorted -#}
{% macro bronze_files_to_read(read='page') -%}
  {%- if execute and load_relation(ref('stg_bronze_files')) is not none -%}
    {{ return(run_query('select ' ~ read ~ '_path from ' ~ ref('stg_bronze_files') ~ ' where ' ~ read
                        ~ '_path is not null order by 1').columns[0].values() | list) }}
  {%- endif -%}
  {{ return([]) }}
{%- endmacro %}


{#- The pages of the bronze files this build reads (stg_bronze_files), read with the columns of `kind`,
    every shape as a page (bronze_response): the envelope's fields and the response as parsed. page_id
    is the file's number in this build (stg_bronze_files.file_id) and the page number, so both reads of a
    file agree on it; a tweet finds its author among the same page's users by it. Lines set aside
    (stg_bronze_files.rejected) are in no read. A model calling this declares
    `-- depends_on: {{ ref('stg_bronze_files') }}` and `-- depends_on: {{ source('bronze', 'pages') }}`. -#}
{% macro bronze_pages(kind) -%}
    select
        (cast(bronze.file_id as bigint) << 32) + coalesce(bronze.envelope.page_number, 0) as page_id,
        bronze.bronze_file,
        bronze.ingest_date,
        bronze.envelope.source as source,
        bronze.envelope.endpoint as endpoint,
        bronze.envelope.stream as stream,
        bronze.envelope.run_id as run_id,
        bronze.envelope.run_key as run_key,
        coalesce(bronze.envelope.page_number, 0) as page_number,
        cast(bronze.envelope.fetched_at as timestamptz) as observed_at,
        bronze.response
    from (
        {%- for read in ['page', 'single', 'flattened'] %}
        {% if not loop.first %}union all{% endif %}
        select
            files.file_id, files.bronze_file, files.ingest_date, part.envelope,
            {{ bronze_response(kind, read, 'part.response') }} as response
        from ({{ read_bronze(bronze_files_to_read(read), kind, read) }}) as part
        inner join {{ ref('stg_bronze_files') }} as files on files.{{ read }}_path = part.filename
        {%- endfor %}
    ) as bronze
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


{#- The read of counts pages (GET /2/tweets/counts/recent and /all, bronze endpoint=counts_*): the envelope
    with the request's query and granularity, the buckets and the total. Counts files are classified like
    every bronze file (stg_bronze_files.counts_path; a damaged line is set aside with its file and line) and
    never taken by a tweet read. An empty relation with the same columns when there are no files. -#}
{% macro read_bronze_counts(files) -%}
  {%- set columns -%}
    {'envelope': 'struct(source varchar, endpoint varchar, stream varchar, stream_key varchar, fetched_at varchar, page_number integer, run_id varchar, run_key varchar, request struct(query varchar, granularity varchar))',
     'response': 'struct(data struct("start" varchar, "end" varchar, tweet_count bigint)[], meta struct(total_tweet_count bigint))'}
  {%- endset -%}
  {{ read_json_lines(files, columns) }}
{%- endmacro %}
