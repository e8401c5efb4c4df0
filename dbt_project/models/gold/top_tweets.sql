{{ config(location=gold_location('top_tweets')) }}
{#- The 10 most engaging tweets per day and stream (query or account). Engagement = likes + retweets +
    replies + quotes. Retweets are left out: their metrics are the original tweet's; so are tweets only
    seen as expansions and versions superseded by an edit (silver.tweet_edits). Each carries its media
    types (silver.tweet_media, silver.media) in attachment order. Only the days whose silver changed are
    recomputed (macros/gold_days.sql). -#}
{%- set days = gold_days(['tweets', 'tweet_media']) %}

with tweets as (

    select * from {{ ref('tweets') }}
    where tweet_type != 'retweet' and {{ collected_tweet() }} and {{ gold_days_filter(days) }}
        and tweet_id not in (select tweet_id from {{ ref('tweet_edits') }} where not is_latest)

),

media as (

    select
        tweet_media.tweet_id,
        list(coalesce(media.media_type, 'unknown') order by tweet_media.position) as media_types
    from {{ ref('tweet_media') }} as tweet_media
    left join {{ ref('media') }} as media using (media_key)
    where {{ gold_days_filter(days, 'tweet_media.dt') }}
    group by tweet_media.tweet_id

),

scored as (

    select
        created_date as day,
        stream,
        tweets.tweet_id,
        author_username,
        text,
        media.media_types[1] as media_type,
        coalesce(media.media_types, []) as media_types,
        like_count + retweet_count + reply_count + quote_count as engagement,
        like_count,
        retweet_count,
        reply_count,
        quote_count
    from tweets
    left join media using (tweet_id)

),

ranked as (

    select
        day,
        stream,
        row_number() over (partition by day, stream order by engagement desc, tweet_id) as rank,
        * exclude (day, stream)
    from scored
    qualify rank <= 10

)

{{ gold_days_merged(days, 'ranked') }}
