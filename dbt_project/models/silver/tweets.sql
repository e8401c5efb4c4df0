{{ config(location=silver_location('tweets'), partition_by='dt') }}
{#- One row per tweet, the latest observation winning: the tweets of the pages' data and those only ever
    seen in their includes.tweets (seen_in 'includes': a retweeted original, a quoted tweet). Partitioned by created date (dt): a tweet never
    changes partition, so an incremental build rewrites only the partitions its new observations touch,
    merging them with the rows already there. -#}
-- depends_on: {{ ref('stg_tweets') }}
-- depends_on: {{ ref('int_tweet_latest') }}
{%- set incremental = lake_is_incremental() -%}
{%- set partitions = distinct_values(ref('stg_tweets'), 'created_date') if incremental else none -%}
{%- set existing = lake_existing(partitions) if incremental else none %}

with observations as (

    select * from {{ ref('stg_tweets') }}

),

sentiment as (

    -- (stg_tweets, not the observations CTE: a CTE read twice is materialized, wide rows and all)
    select scores.text_hash, any_value(scores.sentiment_score) as sentiment_score
    from {{ ref('tweet_sentiment') }} as scores
    semi join {{ ref('stg_tweets') }} as batch on batch.text_hash = scores.text_hash
    group by scores.text_hash

),

latest as (

    select observations.*, winners.first_seen_at, winners.last_seen_at, winners.seen_in
    from observations
    inner join {{ ref('int_tweet_latest') }} as winners
        on winners.page_id = observations.page_id
        and winners.position = observations.position

),

renamed as (

    select
        latest.tweet_id,
        latest.text,
        latest.text_truncated,
        latest.text_clean,
        latest.lang,
        latest.created_at,
        latest.created_date,
        latest.author_id,
        latest.author_username,
        latest.conversation_id,
        latest.tweet_type,
        latest.referenced_tweet_id,
        latest.in_reply_to_user_id,
        latest.possibly_sensitive,
        latest.reply_settings,
        latest.client_app,
        latest.edit_history_tweet_ids,
        latest.edit_history_tweet_ids[-1] as latest_version_id,
        latest.withheld_country_codes,
        latest.withheld_copyright,
        latest.place_id,
        latest.longitude,
        latest.latitude,
        latest.media_keys,
        latest.poll_ids,
        latest.like_count,
        latest.retweet_count,
        latest.reply_count,
        latest.quote_count,
        latest.impression_count,
        latest.bookmark_count,
        coalesce(sentiment.sentiment_score, 0.0) as sentiment_score,
        {{ sentiment_label('coalesce(sentiment.sentiment_score, 0.0)') }} as sentiment_label,
        latest.source,
        latest.endpoint,
        latest.stream,
        latest.seen_in,
        latest.first_seen_at,
        latest.last_seen_at,
        latest.bronze_file,
        latest.text_hash
    from latest
    left join sentiment using (text_hash)

),

{% if existing -%}
existing as (

    select * exclude (dt) from {{ existing }}

),

final as (

    {{ merge_latest('renamed', 'existing', 'tweet_id', keep_min=['first_seen_at', 'seen_in'],
                     rank_first="coalesce(seen_in, 'data')") }}

)
{%- else -%}
final as (

    select * from renamed

)
{%- endif %}

{#- text_hash as a signed BIGINT with the same 64 bits: Delta Lake has no unsigned type -#}
select
    * replace (
        cast(cast(text_hash as hugeint) - case when cast(text_hash as hugeint) > 9223372036854775807
            then 18446744073709551616 else 0 end as bigint) as text_hash
    ),
    created_date as dt
from final
