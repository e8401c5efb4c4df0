{{ config(location=gold_location('tweets_export')) }}
{#- The five columns the classic tutorials produce (tweepy/snscrape to a DataFrame), for people migrating:
    the tweets the streams collected (not those only seen as another tweet's expansion). -#}

with tweets as (

    select * from {{ ref('tweets') }}
    where {{ collected_tweet() }}

),

final as (

    select
        author_username as "user",
        text,
        like_count,
        retweet_count,
        created_at
    from tweets

)

select * from final
