{{ config(location=gold_location('interactions')) }}
{#- Who interacts with whom: replies (in_reply_to_user_id), mentions (not counting a retweet's `RT @x`),
    quotes and retweets (the referenced tweet's author, when the API included it), with counts. -#}

with tweets as (

    select tweet_id, author_id, author_username, tweet_type, in_reply_to_user_id, created_at
    from {{ ref('tweets') }}

),

users as (

    select user_id, username from {{ ref('users') }}

),

replies as (

    select author_id, author_username, in_reply_to_user_id as target_user_id,
        cast(null as varchar) as target_username, 'reply' as interaction, created_at
    from tweets
    where in_reply_to_user_id is not null

),

mentions as (

    select tweets.author_id, tweets.author_username, mentions.mentioned_user_id as target_user_id,
        mentions.mentioned_username as target_username, 'mention' as interaction, tweets.created_at
    from {{ ref('mentions') }} as mentions
    inner join tweets using (tweet_id)
    where tweets.tweet_type != 'retweet' and mentions.mentioned_user_id is not null

),

quotes_and_retweets as (

    select tweets.author_id, tweets.author_username, referenced.referenced_author_id as target_user_id,
        cast(null as varchar) as target_username,
        case referenced.reference_type when 'quoted' then 'quote' else 'retweet' end as interaction,
        tweets.created_at
    from {{ ref('referenced_tweets') }} as referenced
    inner join tweets using (tweet_id)
    where referenced.reference_type in ('quoted', 'retweeted') and referenced.referenced_author_id is not null

),

unioned as (

    select * from replies
    union all
    select * from mentions
    union all
    select * from quotes_and_retweets

),

final as (

    select
        unioned.author_id as source_user_id,
        max(unioned.author_username) as source_username,
        unioned.target_user_id,
        coalesce(max(users.username), max(unioned.target_username)) as target_username,
        unioned.interaction,
        count(*) as interactions,
        min(unioned.created_at) as first_at,
        max(unioned.created_at) as last_at
    from unioned
    left join users on users.user_id = unioned.target_user_id
    group by unioned.author_id, unioned.target_user_id, unioned.interaction

)

select * from final
