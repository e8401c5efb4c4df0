{{ config(location=silver_location('users')) }}
{#- One row per user: the latest profile and follower metrics seen in any page's includes.users.
    Unpartitioned (users are far fewer than tweets): an incremental build merges the new observations
    into the existing table and rewrites it. -#}
-- depends_on: {{ ref('stg_users') }}
{%- set incremental = lake_is_incremental() %}

with observations as (

    select * from {{ ref('stg_users') }}

),

latest as (

    select
        * exclude (observed_at, page_number, position),
        min(observed_at) over (partition by user_id) as first_seen_at,
        max(observed_at) over (partition by user_id) as last_seen_at
    from observations
    qualify row_number() over (partition by user_id order by {{ latest_first() }}) = 1

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
