{#-
  lake_table: a table whose truth is its Parquet files in the lake, built incrementally by partition.

  Why a custom materialization rather than dbt-duckdb's `external` or `incremental`:
  - `incremental` keeps its state in the .duckdb file; here the lake is the only truth, so a deleted
    .duckdb file (or a new machine) must change nothing. Every decision below is taken from the lake's
    files: is there a table yet (any Parquet under its folder), which partitions exist, which bronze files
    were processed (_state/build/bronze_files).
  - `external` rewrites the whole table on every run (cost grows with the lake) and writes in place.

  How a run writes (see foundation/lakefiles.py for the file moves):
  1. the model's SQL runs into a DuckDB table `<model>__batch` (a gold file, the model's whole result,
     is COPYed straight from the query instead). Partitioned models (config partition_by, always the
     column `dt`) return the COMPLETE new content of every partition they return (new rows
     merged with the existing rows of those partitions, latest observation winning), and nothing for
     partitions they leave alone: an insert-overwrite by partition.
  2. DuckDB COPYs the batch to a scratch folder, one file per partition (`dt=<value>/data_0.parquet`),
     one COPY per partition, all in one statement.
  3. tweetlake_install swaps the files in: each file replaces its predecessor of the same name atomically
     (rename locally, one PUT on S3), then stale files are deleted. A reader sees each partition either
     old or new, never half-written, and a key never lives in two partitions, so it never sees duplicates.
  4. a view `<model>` over the lake's files lets downstream models `ref()` it.

  The location is staging (<lake>/_staging/silver/<table>/, gold under gold_root()): readers see silver and
  gold only once `tweetlake publish` commits what passed the gate to their Delta tables (pipeline/publish.py).

  Modes: partitioned -> `partitions` (incremental) / `overwrite` (first or full-refresh build);
  unpartitioned -> `table` (the model returns the whole table); `append=true` -> new files only, compacted
  into one once `compact_after` files pile up; a location ending in .parquet (gold) -> `file`.
-#}

{% materialization lake_table, adapter='duckdb' %}
  {%- set location = config.require('location') -%}
  {%- set partition_by = config.get('partition_by') -%}
  {%- set append = config.get('append', false) -%}
  {%- set compact_after = config.get('compact_after', 16) -%}
  {%- set file_mode = location.endswith('.parquet') -%}
  {%- set incremental = (not file_mode) and lake_is_incremental() -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set batch_relation = api.Relation.create(
        database='scratch', schema='main', identifier=this.identifier ~ '__batch', type='table') -%}
  {{ require_upstream() }}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation is not none and existing_relation.type != 'view' -%}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set rows = none -%}
  {%- if not file_mode -%}
  {% call statement('batch') -%}
    create or replace table {{ batch_relation }} as (
      {{ sql }}
    )
  {%- endcall %}
  {%- set rows = run_query('select count(*) from ' ~ batch_relation)[0][0] -%}
  {%- endif -%}

  {%- if file_mode -%}
    {%- set mode = 'file' -%}
  {%- elif append and incremental -%}
    {%- set files = lake_table_files(location) -%}
    {%- if files | length >= compact_after -%}
      {#- compaction: the table becomes one file again -#}
      {% call statement('compact') -%}
        insert into {{ batch_relation }} by name select * from read_parquet({{ sql_list(files) }})
      {%- endcall %}
      {%- set rows = rows + 1 -%}
      {%- set mode = 'table' -%}
    {%- else -%}
      {%- set mode = 'append' -%}
    {%- endif -%}
  {%- elif partition_by -%}
    {%- set mode = 'partitions' if incremental else 'overwrite' -%}
  {%- else -%}
    {%- set mode = 'table' -%}
  {%- endif -%}

  {#- nothing new: an incremental partition/append write of nothing is a no-op -#}
  {%- set skip = rows == 0 and mode in ('partitions', 'append') -%}
  {%- if mode == 'partitions' -%}
    {#- the partitions this incremental build rewrites: its data tests read only those (macro
        duckdb__get_where_subquery); a marker row (dt null) when it rewrites none -#}
    {% call statement('touched') -%}
      insert into {{ touched_relation() }}
      select '{{ this.identifier }}', null
      union all
      select distinct '{{ this.identifier }}', {{ partition_by }} from {{ batch_relation }}
    {%- endcall %}
  {%- endif -%}
  {%- if not skip -%}
    {%- set scratch = run_query("select tweetlake_scratch('" ~ location ~ "', '" ~ this.identifier ~ "')")[0][0] -%}
    {%- if mode == 'file' -%}
      {#- a gold file is the model's whole result: COPYed straight from the query, no batch table (one
          would hold every row first, and the largest gold files would spill past memory_limit) -#}
      {%- set rows = run_query("copy (\n" ~ sql ~ "\n) to '" ~ scratch ~ "/" ~ this.identifier ~ ".parquet' (format parquet)")[0][0] -%}
    {%- elif partition_by and mode != 'table' and rows > 0 -%}
      {#- one COPY per partition, into the same hive layout (dt=<value>/data_0.parquet, dt not in the file)
          as DuckDB's partitioned COPY writes, at a fraction of its CPU; the scratch folder is always local.
          All the COPYs go in one statement (one round trip through dbt, not one per partition). -#}
      {%- set files = {} -%}
      {%- for value in run_query('select distinct ' ~ partition_by ~ ' from ' ~ batch_relation).columns[0].values() -%}
        {%- do files.update({scratch ~ '/' ~ partition_by ~ '=' ~ ('NULL' if value is none else value) ~ '/data_0.parquet': value}) -%}
      {%- endfor -%}
      {%- do run_query("select count(tweetlake_prepare(f)) from unnest(" ~ sql_list(files.keys() | list) ~ ") as t(f)") -%}
      {% call statement('copy_partitions') -%}
        {%- for file, value in files.items() %}
          copy (
            select * exclude ({{ partition_by }}) from {{ batch_relation }}
            where {{ partition_by }} {{ 'is null' if value is none else "= '" ~ value ~ "'" }}
          ) to '{{ file }}' (format parquet);
        {%- endfor %}
      {%- endcall %}
    {%- else -%}
    {%- if partition_by and mode != 'table' -%}
      {%- do run_query("select tweetlake_prepare('" ~ scratch ~ "/" ~ partition_by ~ "=1970-01-01/data_0.parquet')") -%}
    {%- endif -%}
    {% call statement('copy') -%}
      {%- if partition_by and mode != 'table' %}
      {#- an empty partitioned table still needs a file, so readers see its columns -#}
      copy (select * exclude ({{ partition_by }}) from {{ batch_relation }})
        to '{{ scratch }}/{{ partition_by }}=1970-01-01/data_0.parquet' (format parquet)
      {%- else %}
      copy {{ batch_relation }} to '{{ scratch }}/data_0.parquet' (format parquet)
      {%- endif %}
    {%- endcall %}
    {%- endif -%}
    {%- set installed = run_query(
          "select tweetlake_install('" ~ scratch ~ "', '" ~ location ~ "', '" ~ mode ~ "', '"
          ~ invocation_id[:12] ~ "')")[0][0] -%}
    {{ log(this.identifier ~ ' [' ~ mode ~ ', ' ~ rows ~ ' rows]: ' ~ installed) }}
  {%- endif -%}

  {#- the batch lives in the in-memory `scratch` database, the view in the .duckdb file: a DuckDB
      transaction writes to one database only, so commit in between -#}
  {% call statement('drop_batch') -%}
    drop table if exists {{ batch_relation }}
  {%- endcall %}
  {{ adapter.commit() }}
  {% call statement('main') -%}
    create or replace view {{ target_relation }} as
    select * from {{ lake_read(location, partition_by, file_mode) }}
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- read_parquet(...) over a lake table's files -#}
{% macro lake_read(location, partition_by=none, file_mode=false) -%}
  {%- if file_mode -%}
    read_parquet('{{ location }}')
  {%- elif partition_by -%}
    read_parquet('{{ location }}/*/*.parquet', hive_partitioning = true)
  {%- else -%}
    read_parquet('{{ location }}/*.parquet', hive_partitioning = false)
  {%- endif -%}
{%- endmacro %}


{#- paths of the files matching a glob in the lake (local or s3://), sorted -#}
{% macro lake_ls(pattern) -%}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set result = run_query("select f.path from (select unnest(tweetlake_ls('" ~ pattern ~ "')) as f) order by 1") -%}
  {{ return(result.columns[0].values() | list) }}
{%- endmacro %}


{#- the Parquet files of a lake table (unpartitioned or one level of hive partitions) -#}
{% macro lake_table_files(location) -%}
  {{ return(lake_ls(location ~ '/*.parquet') + lake_ls(location ~ '/*/*.parquet')) }}
{%- endmacro %}


{#- true when this model adds to an existing lake table; false on its first build or --full-refresh -#}
{% macro lake_is_incremental() -%}
  {%- if not execute or should_full_refresh() -%}{{ return(false) }}{%- endif -%}
  {{ return(lake_table_files(config.get('location')) | length > 0) }}
{%- endmacro %}


{#- read_parquet over the existing files of this model's table in the given partitions (values of dt),
    or none when there are none -#}
{% macro lake_existing(partitions=none) -%}
  {%- set location = config.get('location') -%}
  {%- set files = lake_table_files(location) -%}
  {%- if partitions is not none -%}
    {%- set wanted = [] -%}
    {%- for f in files -%}
      {%- for p in partitions -%}
        {%- if ('/dt=' ~ p ~ '/') in f -%}{%- do wanted.append(f) -%}{%- endif -%}
      {%- endfor -%}
    {%- endfor -%}
    {%- set files = wanted -%}
  {%- endif -%}
  {%- if files | length == 0 -%}{{ return(none) }}{%- endif -%}
  {{ return("read_parquet(" ~ sql_list(files) ~ ", hive_partitioning = " ~ ('true' if partitions is not none else 'false') ~ ")") }}
{%- endmacro %}


{#- the distinct values of an expression over a relation, as strings (the partitions a batch touches) -#}
{% macro distinct_values(relation, expression) -%}
  {#- compile-only commands (docs generate, compile) run without the build's scratch tables -#}
  {%- if not execute or load_relation(relation) is none -%}{{ return([]) }}{%- endif -%}
  {%- set result = run_query("select distinct cast(" ~ expression ~ " as varchar) from " ~ relation ~ " where " ~ expression ~ " is not null order by 1") -%}
  {{ return(result.columns[0].values() | list) }}
{%- endmacro %}


{#- a SQL list literal of strings: ['a', 'b'] -#}
{% macro sql_list(values) -%}
  [{%- for v in values -%}'{{ v | replace("'", "''") }}'{{ ', ' if not loop.last }}{%- endfor -%}]
{%- endmacro %}


{#- scratch.main.tweetlake_touched (model, dt): the partitions each partitioned model rewrote in this
    build (created by on-run-start, so it exists in every dbt invocation and starts empty) -#}
{% macro touched_relation() -%}
  scratch.main.tweetlake_touched
{%- endmacro %}


{#- Data tests of a partitioned lake table read only the partitions this build rewrote: a tweet never
    changes partition and the rows elsewhere were tested when they were written, so a test's cost follows
    the batch, not the lake. Tables rewritten whole (first build, --full-refresh, unpartitioned, gold) and
    every table in a `dbt test` of its own are tested whole. The partitions are literals, so DuckDB prunes
    the other partitions' files instead of reading them. -#}
{% macro duckdb__get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- set partitions = none -%}
  {%- if execute and relation.identifier and run_query(
        "select count(*) from duckdb_tables() where database_name = 'scratch' and schema_name = 'main'"
        ~ " and table_name = 'tweetlake_touched'")[0][0] > 0 -%}
    {%- set found = run_query("select cast(dt as varchar) from " ~ touched_relation() ~ " where model = '"
          ~ relation.identifier ~ "'") -%}
    {%- if found | length > 0 -%}
      {%- set partitions = found.columns[0].values() | reject('none') | list -%}
    {%- endif -%}
  {%- endif -%}
  {%- set conditions = [] -%}
  {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
  {%- if partitions is not none -%}{%- do conditions.append(in_partitions(partitions)) -%}{%- endif -%}
  {%- if conditions -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
  {%- endif -%}
  {{ return(relation) }}
{%- endmacro %}


{#- A model selected on its own (`dbt run -s tweets`) reads the tables its upstream models left in the work
    DuckDB file at the last build. When one is not there (a new work file, or never built), stop with one
    line saying what to run, rather than DuckDB's "Catalog Error: Table ... does not exist". -#}
{% macro require_upstream() -%}
  {%- if execute -%}
  {%- for node_id in model.depends_on.nodes if node_id.startswith('model.') -%}
    {%- set node = graph.nodes[node_id] -%}
    {%- if node.config.materialized != 'ephemeral' and adapter.get_relation(
          database=node.database, schema=node.schema, identifier=node.alias) is none -%}
      {{ exceptions.raise_compiler_error(
           model.name ~ " reads " ~ node.name ~ ", which is not built in this work database: run `dbt build -s +"
           ~ model.name ~ "` (the model and everything upstream of it) instead") }}
    {%- endif -%}
  {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
