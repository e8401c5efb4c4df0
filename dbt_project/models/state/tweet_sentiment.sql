{{ config(location=state_location('tweet_sentiment'), append=true, full_refresh=false) }}
{#- The VADER score of every distinct cleaned text ever scored, by text hash. Append-only (new files per
    build, compacted now and then) and never rebuilt, not even by --full-refresh: a text is scored once. -#}

with scored as (

    select * from {{ ref('int_sentiment_scores') }}

),

final as (

    select
        text_hash,
        sentiment_score,
        current_timestamp as scored_at
    from scored

)

select * from final
