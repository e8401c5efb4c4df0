{{ config(location=silver_location('users')) }}
{#- One row per user: the latest profile and follower metrics seen in any page's includes.users.
    Unpartitioned (users are far fewer than tweets): an incremental build merges the new observations
    into the existing table and rewrites it. -#}
-- depends_on: {{ ref('stg_users') }}
{%- set incremental = lake_is_incremental() %}

with observations as (

    select * from {{ ref('stg_users') }}

),

winners as (

    -- the latest observation of each user, chosen on narrow columns (a window over the wide
    -- observation rows sorts them all: measured 4x slower at 1M tweets)
    select
        user_id,
        arg_max({'page_id': page_id, 'position': position}, {{ latest_key() }}) as winner,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at
    from observations
    group by user_id

),

latest as (

    select
        observations.* exclude (observed_at, page_number, position),
        winners.first_seen_at,
        winners.last_seen_at
    from observations
    inner join winners
        on winners.user_id = observations.user_id
        and winners.winner.page_id = observations.page_id
        and winners.winner.position = observations.position

),

{% if incremental -%}
existing as (

    select * from {{ lake_existing() }}

),

final as (

    {{ merge_latest('latest', 'existing', 'user_id') }}

)
{%- else -%}
final as (

    select * from latest

)
{%- endif %}

select
    user_id, username, name, description, location, verified, created_at,
    followers_count, following_count, tweet_count, listed_count,
    first_seen_at, last_seen_at, bronze_file
from final
