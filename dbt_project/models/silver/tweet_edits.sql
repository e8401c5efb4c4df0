{{ config(location=silver_location('tweet_edits')) }}
{#- How edited tweets supersede each other. An edit is a new tweet with its own id; each version carries
    edit_history_tweet_ids, every version's id oldest first, so the last one is the latest the API knew
    when it was fetched. One row per version of every tweet edited at least once: its latest version's
    id and its place in the history. The longest history seen wins (a later fetch knows later edits), so
    an earlier version's row is corrected when a later version arrives, whichever build sees it.
    silver.tweets keeps every version as a row (each was a post people saw); `is_latest = false` here
    marks the superseded ones, which gold leaves out. Unpartitioned (edits are rare). -#}
-- depends_on: {{ ref('stg_tweets') }}

with histories as (

    select distinct edit_history_tweet_ids as history
    from {{ ref('stg_tweets') }}
    where len(edit_history_tweet_ids) > 1

),

versions as (

    select
        unnest(history) as tweet_id,
        generate_subscripts(history, 1) as version,
        len(history) as versions,
        history[-1] as latest_tweet_id
    from histories

),

new_rows as (

    select tweet_id, arg_max({'latest_tweet_id': latest_tweet_id, 'version': version, 'versions': versions}, versions) as v
    from versions
    where tweet_id is not null
    group by tweet_id

),

{% set existing = lake_existing() if lake_is_incremental() else none -%}
merged as (

    select tweet_id, v.latest_tweet_id, v.version, v.versions
    from new_rows
    {%- if existing %}
    union all
    select tweet_id, latest_tweet_id, version, versions from {{ existing }}
    {%- endif %}

),

final as (

    select
        tweet_id,
        arg_max(latest_tweet_id, versions) as latest_tweet_id,
        arg_max(version, versions) as version,
        max(versions) as versions
    from merged
    group by tweet_id

)

select *, tweet_id = latest_tweet_id as is_latest from final
