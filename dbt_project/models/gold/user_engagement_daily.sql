{{ config(location=gold_location('user_engagement_daily')) }}
{#- Per author and day (UTC created date): tweets, their latest metrics summed, and the engagement rate.
    Only the days whose silver changed are recomputed (macros/gold_days.sql). -#}
{%- set days = gold_days(['tweets']) %}

with tweets as (

    select * from {{ ref('tweets') }}
    where {{ collected_tweet() }} and {{ gold_days_filter(days) }}

),

daily as (

    select
        author_id,
        arg_max(author_username, last_seen_at) as author_username,
        created_date as day,
        count(*) as tweets,
        sum(like_count) as likes,
        sum(retweet_count) as retweets,
        sum(reply_count) as replies,
        sum(quote_count) as quotes,
        sum(impression_count) as impressions
    from tweets
    group by author_id, created_date

),

final as (

    select
        *,
        (likes + retweets + replies + quotes) / nullif(impressions, 0) as engagement_rate
    from daily

)

{{ gold_days_merged(days, 'final') }}
