{{ config(location=gold_location('tweets_export')) }}

with tweets as (

    select * from {{ ref('tweets') }}

),

final as (

    select
        author_id as user_id,
        text_raw as text,
        like_count,
        retweet_count,
        created_at
    from tweets

)

select * from final
