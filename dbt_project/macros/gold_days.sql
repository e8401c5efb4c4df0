{#- Daily gold tables, recomputed only for the days whose silver changed.

    A daily gold table (one row per day and something) depends on a day's silver rows only, and silver's
    large tables are partitioned by that same day (dt). So a build recomputes the days whose silver
    partition files are newer than the gold file it rewrites (the state is the files' own modification
    times: a build that failed before its gold step leaves newer silver partitions, recomputed next time),
    keeps the gold file's rows of the other days, and drops the days silver no longer has (a full refresh
    of silver may remove partitions). With --full-refresh, or no gold file yet, every day is computed.
    Recomputing every day would make a day's incremental build cost grow with the lake's history. -#}

{#- none (compute every day), or {'changed': [days to recompute], 'kept': [days to copy from the gold
    file], 'location': the gold file}, for a daily gold model reading the given partitioned silver tables -#}
{% macro gold_days(silver_tables) -%}
  {%- if not execute or should_full_refresh() -%}{{ return(none) }}{%- endif -%}
  {%- set location = config.require('location') -%}
  {%- set base = run_query("select f.mtime from (select unnest(tweetlake_ls('" ~ location ~ "')) as f)") -%}
  {%- if base | length == 0 -%}{{ return(none) }}{%- endif -%}
  {%- set listings = [] -%}
  {%- for table in silver_tables -%}
    {%- do listings.append("select unnest(tweetlake_ls('" ~ silver_location(table) ~ "/dt=*/*.parquet')) as f") -%}
  {%- endfor -%}
  {%- set days = run_query(
        "select day, bool_or(coalesce(" ~ mtime_seconds('mtime') ~ " > " ~ mtime_seconds("'" ~ base[0][0] ~ "'")
        ~ ", true)) as changed from (select try_cast(regexp_extract(f.path, '/dt=([0-9-]+)/', 1) as date) as day, "
        ~ "f.mtime as mtime from (" ~ listings | join(' union all ') ~ ")) where day is not null "
        ~ "group by day order by day") -%}
  {%- set changed, kept = [], [] -%}
  {%- for row in days -%}
    {%- do (changed if row[1] else kept).append(row[0] | string) -%}
  {%- endfor -%}
  {{ return({'changed': changed, 'kept': kept, 'location': location}) }}
{%- endmacro %}


{#- a file's modification time as seconds: tweetlake_ls gives a local file's as a number, S3's as a time
    (a time that cannot be read counts as newer: the day is recomputed) -#}
{% macro mtime_seconds(expression) -%}
  coalesce(try_cast({{ expression }} as double), epoch(try_cast({{ expression }} as timestamptz)))
{%- endmacro %}


{#- the filter on a silver table's rows (its partition column dt) for the days to compute -#}
{% macro gold_days_filter(days, column='dt') -%}
  {%- if days is none -%}
    true
  {%- elif days['changed'] -%}
    {{ column }} in ({{ date_literals(days['changed']) }})
  {%- else -%}
    false
  {%- endif -%}
{%- endmacro %}


{#- the model's rows: the days computed (relation `computed`), plus the gold file's rows of the days kept -#}
{% macro gold_days_merged(days, computed, day_column='day') -%}
  select * from {{ computed }}
  {%- if days is not none and days['kept'] %}
  union all by name
  select * from read_parquet('{{ days['location'] }}')
  where {{ day_column }} in ({{ date_literals(days['kept']) }})
  {%- endif %}
{%- endmacro %}


{#- days (YYYY-MM-DD strings) as SQL date literals: date '2026-10-01', date '2026-10-02' -#}
{% macro date_literals(days) -%}
  {%- for day in days %}date '{{ day }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}


{#- a SQL boolean on silver.tweets: the tweet was collected by a stream (in a page's `data`), not only seen
    as another tweet's expansion (seen_in 'includes': a retweeted original, a quoted tweet, which gold
    counts for no stream); a row of a lake built before seen_in existed (null) was collected -#}
{% macro collected_tweet(alias=none) -%}
  {{ (alias ~ '.') if alias else '' }}seen_in is distinct from 'includes'
{%- endmacro %}
