{{ config(location=gold_location('hashtag_trends_daily')) }}
{#- Per day, kind ('hashtag', lowercased; 'cashtag', uppercased: $TWTR is a ticker, not a topic, so the
    two stay apart) and tag: tweets using it, distinct authors, and their summed engagement.
    Only the days whose silver changed are recomputed (macros/gold_days.sql); a tweet's hashtags live in
    its tweet's partition (dt: the created date). -#}
{%- set days = gold_days(['tweets', 'hashtags', 'cashtags']) %}

with hashtags as (

    select tweet_id, 'hashtag' as kind, tag from {{ ref('hashtags') }}
    where {{ gold_days_filter(days) }}
    union all
    select tweet_id, 'cashtag' as kind, tag from {{ ref('cashtags') }}
    where {{ gold_days_filter(days) }}

),

tweets as (

    select
        tweet_id,
        created_date,
        author_id,
        like_count + retweet_count + reply_count + quote_count as engagement
    from {{ ref('tweets') }}
    where {{ collected_tweet() }} and {{ gold_days_filter(days) }}

),

final as (

    select
        tweets.created_date as day,
        hashtags.kind,
        hashtags.tag,
        count(distinct tweets.tweet_id) as tweets,
        count(distinct tweets.author_id) as authors,
        sum(tweets.engagement) as engagement
    from hashtags
    inner join tweets using (tweet_id)
    group by tweets.created_date, hashtags.kind, hashtags.tag

)

{{ gold_days_merged(days, 'final') }}
