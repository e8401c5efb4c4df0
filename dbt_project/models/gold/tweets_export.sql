{{ config(location=gold_location('tweets_export')) }}
{#- The five columns the classic tutorials produce (tweepy/snscrape to a DataFrame), for people migrating. -#}

with tweets as (

    select * from {{ ref('tweets') }}

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
