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
        {{ unescape_html('tweet.text') }} as text,
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
        tweet.entities.hashtags as hashtags,
        tweet.entities.mentions as mentions,
        tweet.entities.urls as urls,
        tweet.referenced_tweets as refs,
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
