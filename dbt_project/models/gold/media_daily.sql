{{ config(location=gold_location('media_daily')) }}
{#- Per day, stream and media type (photo, video, animated_gif; 'none' for tweets without media): the
    tweets collected, how many media items they carry, and the views of those items (videos and GIFs;
    the latest count seen). Retweets are left out (their media are the original's). Only the days whose
    silver changed are recomputed (macros/gold_days.sql). -#}
{%- set days = gold_days(['tweets', 'tweet_media']) %}

with tweets as (

    select tweet_id, created_date, stream
    from {{ ref('tweets') }}
    where tweet_type != 'retweet' and {{ collected_tweet() }} and {{ gold_days_filter(days) }}

),

attached as (

    select tweet_media.tweet_id, coalesce(media.media_type, 'unknown') as media_type, media.view_count
    from {{ ref('tweet_media') }} as tweet_media
    left join {{ ref('media') }} as media using (media_key)
    where {{ gold_days_filter(days, 'tweet_media.dt') }}

),

final as (

    select
        tweets.created_date as day,
        tweets.stream,
        coalesce(attached.media_type, 'none') as media_type,
        count(distinct tweets.tweet_id) as tweets,
        count(attached.tweet_id) as media_items,
        coalesce(sum(attached.view_count), 0) as views
    from tweets
    left join attached using (tweet_id)
    group by all

)

{{ gold_days_merged(days, 'final') }}
