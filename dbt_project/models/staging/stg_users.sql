{#- Every observation of a user profile: the includes.users of the new bronze pages. -#}

with pages as (

    select * from {{ ref('stg_bronze_pages') }}
    where len(included_users) > 0

),

observations as (

    select
        page_id,
        bronze_file,
        page_number,
        observed_at,
        unnest(included_users) as u,
        generate_subscripts(included_users, 1) as position
    from pages

),

renamed as (

    select
        u.id as user_id,
        u.username as username,
        u.name as name,
        {{ unescape_html('u.description') }} as description,
        u.location as location,
        coalesce(u.verified, false) as verified,
        cast(u.created_at as timestamptz) as created_at,
        u.public_metrics.followers_count as followers_count,
        u.public_metrics.following_count as following_count,
        u.public_metrics.tweet_count as tweet_count,
        u.public_metrics.listed_count as listed_count,
        observed_at,
        bronze_file,
        page_id,
        page_number,
        position
    from observations
    where u.id is not null

)

select * from renamed
