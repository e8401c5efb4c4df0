{{ config(location=gold_location('top_tweets')) }}
{#- The 10 most engaging tweets per day and stream (query or account). Engagement = likes + retweets +
    replies + quotes. Retweets are left out: their metrics are the original tweet's. Only the days whose
    silver changed are recomputed (macros/gold_days.sql). -#}
{%- set days = gold_days(['tweets']) %}

with tweets as (

    select * from {{ ref('tweets') }}
    where tweet_type != 'retweet' and {{ gold_days_filter(days) }}

),

scored as (

    select
        created_date as day,
        stream,
        tweet_id,
        author_username,
        text,
        like_count + retweet_count + reply_count + quote_count as engagement,
        like_count,
        retweet_count,
        reply_count,
        quote_count
    from tweets

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
