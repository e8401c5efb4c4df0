{{ config(location=gold_location('sentiment_daily')) }}
{#- Per stream (query or account) and day: tweets, mean VADER compound score, share of each label.
    Only the days whose silver changed are recomputed (macros/gold_days.sql). -#}
{%- set days = gold_days(['tweets']) %}

with tweets as (

    select * from {{ ref('tweets') }}
    where {{ collected_tweet() }} and {{ gold_days_filter(days) }}

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

{{ gold_days_merged(days, 'final') }}
