{{ config(location=gold_location('sentiment_daily')) }}
{#- Per stream (query or account) and day: tweets, mean VADER compound score, share of each label. -#}

with tweets as (

    select * from {{ ref('tweets') }}

),

final as (

    select
        stream,
        created_date as day,
        count(*) as tweets,
        avg(sentiment_score) as mean_score,
        avg(case when sentiment_label = 'positive' then 1.0 else 0.0 end) as share_positive,
        avg(case when sentiment_label = 'neutral' then 1.0 else 0.0 end) as share_neutral,
        avg(case when sentiment_label = 'negative' then 1.0 else 0.0 end) as share_negative
    from tweets
    group by stream, created_date

)

select * from final
