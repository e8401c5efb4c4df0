{#- Entity tables (hashtags, mentions, urls, referenced_tweets) hold the entities of each tweet's WINNING
    observation, the same one silver.tweets keeps, partitioned like tweets by created date (dt). An
    incremental build replaces the entity rows of the tweets whose winner is in this batch, in the
    partitions those tweets live in, and keeps every other row. -#}

{#- the partitions (created dates) this batch touches, or none on a first / full-refresh build -#}
{% macro entity_partitions() -%}
  {{ return(distinct_values(ref('stg_tweets'), 'created_date') if lake_is_incremental() else none) }}
{%- endmacro %}


{#- a SQL boolean: dt is one of the partitions -#}
{% macro in_partitions(partitions) -%}
  {%- if partitions -%}dt in ({{ date_literals(partitions) }})
  {%- else -%}false{%- endif -%}
{%- endmacro %}


{#- the batch's latest observation of each tweet, when it is also silver.tweets' winner -#}
{% macro winning_observations(partitions) -%}
    select observations.*
    from {{ ref('stg_tweets') }} as observations
    semi join {{ ref('int_tweet_latest') }} as latest
        on latest.page_id = observations.page_id
        and latest.position = observations.position
    {%- if partitions is not none %}
    semi join (
        select tweet_id, last_seen_at, bronze_file from {{ ref('tweets') }}
        where {{ in_partitions(partitions) }}
    ) as winners
        on winners.tweet_id = observations.tweet_id
        and winners.last_seen_at = observations.observed_at
        and winners.bronze_file = observations.bronze_file
    {%- endif %}
{%- endmacro %}


{#- new entity rows (CTE `new_rows`, from CTE `winners`) plus the rows to keep in the touched partitions -#}
{% macro merge_entities(partitions) -%}
  {%- set existing = lake_existing(partitions) if partitions is not none else none -%}
    select * from new_rows
  {%- if existing %}
    union all by name
    select * exclude (dt) from {{ existing }}
    where tweet_id not in (select tweet_id from winners)
  {%- endif %}
{%- endmacro %}


{#- Latest observation wins: the new rows merged with the existing rows of the same key, one row per key,
    the newest by (last_seen_at, bronze_file, new batch first) winning, keeping the smallest value of
    each `keep_min` column over both (the earliest first_seen_at; seen_in 'data' over 'includes').
    `rank_first`: an ordering that outranks recency (silver.tweets: a page's own tweet over an expansion). -#}
{% macro merge_latest(new_rows, existing, key, keep_min=['first_seen_at'], rank_first=none) -%}
    select
        * exclude ({% for c in keep_min %}merged_{{ c }}{{ ', ' if not loop.last }}{% endfor %})
        replace ({% for c in keep_min %}merged_{{ c }} as {{ c }}{{ ', ' if not loop.last }}{% endfor %})
    from (
        select
            * exclude (is_new),
            {%- for c in keep_min %}
            min({{ c }}) over (partition by {{ key }}) as merged_{{ c }}{{ ',' if not loop.last }}
            {%- endfor %}
        from (
            select *, true as is_new from {{ new_rows }}
            union all by name
            select *, false as is_new from {{ existing }}
        )
        qualify row_number() over (
            partition by {{ key }}
            order by {{ (rank_first ~ ', ') if rank_first else '' }}last_seen_at desc, bronze_file desc, is_new desc
        ) = 1
    )
{%- endmacro %}
