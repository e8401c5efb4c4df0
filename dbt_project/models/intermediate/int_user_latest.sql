{#- The latest observation of each user profile in the new bronze pages (their includes.users), with the
    user's first and last observation times in this batch. A page includes every user it mentions, so the
    observations far outnumber the users (tens of observations per user): the winner of each user is
    chosen on the ids alone (page and position), then only the winners' profiles are read out of their
    pages' lists and renamed, rather than unnesting every profile and choosing among the wide rows. -#}

with observations as (

    -- (stg_bronze_pages itself, here and in `latest`, not a CTE of it: a CTE read twice is materialized,
    -- a copy of every page's includes that pushed a 1M build past memory_limit)
    select
        page_id,
        bronze_file,
        page_number,
        observed_at,
        unnest(list_transform(included_users, lambda u: u.id)) as user_id,
        generate_subscripts(included_users, 1) as position
    from {{ ref('stg_bronze_pages') }}
    where len(included_users) > 0

),

winners as (

    select
        user_id,
        arg_max({'page_id': page_id, 'position': position}, {{ latest_key() }}) as winner,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at
    from observations
    where user_id is not null
    group by user_id

),

latest as (

    select
        pages.included_users[winners.winner.position] as u,
        winners.first_seen_at,
        winners.last_seen_at,
        pages.bronze_file,
        pages.page_id
    from winners
    inner join {{ ref('stg_bronze_pages') }} as pages on pages.page_id = winners.winner.page_id

),

renamed as (

    select
        u.id as user_id,
        u.username as username,
        u.name as name,
        {{ unescape_html('u.description') }} as description,
        u.location as location,
        coalesce(u.verified, false) as verified,
        u.verified_type as verified_type,
        u.protected as protected,
        -- the profile's link as its owner wrote it (entities.url), not the t.co wrapper
        coalesce(u.entities.url.urls[1].expanded_url, u.url) as url,
        u.profile_image_url as profile_image_url,
        u.pinned_tweet_id as pinned_tweet_id,
        u.withheld.country_codes as withheld_country_codes,
        cast(u.created_at as timestamptz) as created_at,
        u.public_metrics.followers_count as followers_count,
        u.public_metrics.following_count as following_count,
        u.public_metrics.tweet_count as tweet_count,
        u.public_metrics.listed_count as listed_count,
        first_seen_at,
        last_seen_at,
        bronze_file,
        page_id
    from latest

)

select * from renamed
