{{ config(location=silver_location('tweets')) }}

with source as (

    select envelope, unnest(response.data) as tweet
    from {{ source('bronze', 'pages') }}

),

renamed as (

    select
        tweet.id as tweet_id,
        tweet.text as text_raw,
        tweet.author_id as author_id,
        cast(tweet.created_at as timestamptz) as created_at,
        tweet.lang as lang,
        coalesce(tweet.public_metrics.like_count, 0) as like_count,
        coalesce(tweet.public_metrics.retweet_count, 0) as retweet_count,
        coalesce(tweet.public_metrics.reply_count, 0) as reply_count,
        coalesce(tweet.public_metrics.quote_count, 0) as quote_count,
        envelope.stream as stream,
        cast(envelope.fetched_at as timestamptz) as fetched_at
    from source

),

latest as (

    select *
    from renamed
    qualify row_number() over (partition by tweet_id order by fetched_at desc) = 1

)

select * from latest
