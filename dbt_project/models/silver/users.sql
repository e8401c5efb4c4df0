{{ config(location=silver_location('users')) }}
{#- One row per user: the latest profile and follower metrics seen in any page's includes.users.
    Unpartitioned (users are far fewer than tweets): an incremental build merges the new observations
    into the existing table and rewrites it. -#}
{%- set incremental = lake_is_incremental() %}

with latest as (

    -- one row per user already: the batch's latest observation (int_user_latest)
    select * exclude (page_id) from {{ ref('int_user_latest') }}

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
    user_id, username, name, description, location, verified, verified_type, protected, url,
    profile_image_url, pinned_tweet_id, withheld_country_codes, created_at,
    followers_count, following_count, tweet_count, listed_count,
    first_seen_at, last_seen_at, bronze_file
from final
