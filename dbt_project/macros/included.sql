{#- Objects a page includes (includes.media, includes.polls, includes.places): one row per key, its batch's
    latest observation (the same rule as users: int_user_latest), as `item` with first_seen_at,
    last_seen_at and bronze_file. The winner of each key is chosen on its page id and position alone,
    then only the winners are read out of their pages' lists. -#}
{% macro latest_included(list_column, key_field) -%}
    select
        pages.{{ list_column }}[winners.winner.position] as item,
        winners.first_seen_at,
        winners.last_seen_at,
        pages.bronze_file
    from (
        select
            key,
            arg_max({'page_id': page_id, 'position': position}, {{ latest_key() }}) as winner,
            min(observed_at) as first_seen_at,
            max(observed_at) as last_seen_at
        from (
            select
                page_id,
                bronze_file,
                page_number,
                observed_at,
                unnest(list_transform({{ list_column }}, lambda x: x.{{ key_field }})) as key,
                generate_subscripts({{ list_column }}, 1) as position
            from {{ ref('stg_bronze_pages') }}
            where len({{ list_column }}) > 0
        )
        where key is not null
        group by key
    ) as winners
    inner join {{ ref('stg_bronze_pages') }} as pages on pages.page_id = winners.winner.page_id
{%- endmacro %}


{#- an unpartitioned silver table of included objects: this batch's latest rows (CTE `latest`, keyed by
    `key`) merged into the existing table, latest observation winning -#}
{% macro merge_included(key) -%}
  {%- set existing = lake_existing() if lake_is_incremental() else none -%}
  {%- if existing -%}
    {{ merge_latest('latest', existing, key) }}
  {%- else -%}
    select * from latest
  {%- endif -%}
{%- endmacro %}
