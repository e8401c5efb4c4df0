{#- Every observation of a tweet in the new bronze pages, flattened and typed. The author's username comes
    from the SAME page's includes.users, looked up in the page's own list of user ids (list_position),
    not by a join against every page's users. -#}
-- Built after int_user_latest, which is faster while DuckDB's memory holds only the pages, not these tweets:
-- depends_on: {{ ref('int_user_latest') }}

with source as (

    select * from {{ ref('stg_bronze_tweets') }}

),

renamed as (

    select
        tweet.id as tweet_id,
        -- the whole text: a long post's (note_tweet) is its text, the API's `text` its first 280 characters
        {{ unescape_html('coalesce(tweet.note_tweet.text, tweet.text)') }} as text,
        case when tweet.note_tweet.text is not null then {{ unescape_html('tweet.text') }} end as text_truncated,
        tweet.lang as lang,
        -- a tweet id is a snowflake that carries its creation time: the fallback when created_at is missing
        coalesce(
            cast(tweet.created_at as timestamptz),
            make_timestamptz(cast(((try_cast(tweet.id as hugeint) >> 22) + 1288834974657) * 1000 as bigint))
        ) as created_at,
        tweet.author_id as author_id,
        tweet.conversation_id as conversation_id,
        tweet.in_reply_to_user_id as in_reply_to_user_id,
        coalesce(tweet.possibly_sensitive, false) as possibly_sensitive,
        coalesce(tweet.public_metrics.like_count, 0) as like_count,
        coalesce(tweet.public_metrics.retweet_count, 0) as retweet_count,
        coalesce(tweet.public_metrics.reply_count, 0) as reply_count,
        coalesce(tweet.public_metrics.quote_count, 0) as quote_count,
        tweet.public_metrics.impression_count as impression_count,
        tweet.public_metrics.bookmark_count as bookmark_count,
        -- a long post's entities are note_tweet's (their offsets are in the whole text)
        coalesce(tweet.note_tweet.entities.hashtags, tweet.entities.hashtags) as hashtags,
        coalesce(tweet.note_tweet.entities.cashtags, tweet.entities.cashtags) as cashtags,
        coalesce(tweet.note_tweet.entities.mentions, tweet.entities.mentions) as mentions,
        coalesce(tweet.note_tweet.entities.urls, tweet.entities.urls) as urls,
        tweet.entities.annotations as annotations,
        tweet.context_annotations as context_annotations,
        tweet.attachments.media_keys as media_keys,
        tweet.attachments.poll_ids as poll_ids,
        tweet.referenced_tweets as refs,
        tweet.edit_history_tweet_ids as edit_history_tweet_ids,
        tweet.reply_settings as reply_settings,
        -- the client it was posted from (the API's `source`; `source` here is the lake's ingestion source)
        tweet.source as client_app,
        tweet.withheld.country_codes as withheld_country_codes,
        coalesce(tweet.withheld.copyright, false) as withheld_copyright,
        tweet.geo.place_id as place_id,
        -- GeoJSON Point: [longitude, latitude]
        case when tweet.geo.coordinates.type = 'Point' then tweet.geo.coordinates.coordinates[1] end as longitude,
        case when tweet.geo.coordinates.type = 'Point' then tweet.geo.coordinates.coordinates[2] end as latitude,
        -- where this observation was: the page's own tweets, or its includes.tweets (an expansion)
        case when position <= data_count then 'data' else 'includes' end as observed_in,
        -- (list_position matches NULL with NULL: a tweet without author_id gets no username)
        case
            when tweet.author_id is not null then page_usernames[list_position(page_user_ids, tweet.author_id)]
        end as author_username,
        source,
        endpoint,
        stream,
        observed_at,
        bronze_file,
        page_id,
        page_number,
        position
    from source

),

typed as (

    select
        renamed.*,
        cast(created_at as date) as created_date,
        case
            when list_contains(list_transform(refs, lambda r: r.type), 'retweeted') then 'retweet'
            when list_contains(list_transform(refs, lambda r: r.type), 'quoted') then 'quote'
            when list_contains(list_transform(refs, lambda r: r.type), 'replied_to') then 'reply'
            else 'original'
        end as tweet_type,
        {{ clean_text('text') }} as text_clean
    from renamed

),

final as (

    select
        *,
        list_filter(
            refs,
            lambda r: r.type = case tweet_type
                when 'retweet' then 'retweeted' when 'quote' then 'quoted' when 'reply' then 'replied_to' end
        )[1].id as referenced_tweet_id,
        md5_number_lower(coalesce(text_clean, '')) as text_hash
    from typed

)

select * from final
