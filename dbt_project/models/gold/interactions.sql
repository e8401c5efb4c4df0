{{ config(location=gold_location('interactions')) }}
{#- Who interacts with whom: replies (in_reply_to_user_id), mentions (not counting a retweet's `RT @x`),
    quotes and retweets (the referenced tweet's author, when the API included it), with counts.
    Mentions and references are unioned before their one join with tweets, and the target's current
    username is joined once per pair after the aggregation, not once per interaction: fewer, narrower
    rows through each join. -#}

with tweets as (

    select tweet_id, author_id, author_username, tweet_type, in_reply_to_user_id, created_at
    from {{ ref('tweets') }}
    where {{ collected_tweet() }}

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

referencing as (

    select tweet_id, mentioned_user_id as target_user_id, mentioned_username as target_username,
        'mention' as interaction
    from {{ ref('mentions') }}
    where mentioned_user_id is not null
    union all
    select tweet_id, referenced_author_id as target_user_id, cast(null as varchar) as target_username,
        case reference_type when 'quoted' then 'quote' else 'retweet' end as interaction
    from {{ ref('referenced_tweets') }}
    where reference_type in ('quoted', 'retweeted') and referenced_author_id is not null

),

mentions_quotes_and_retweets as (

    select tweets.author_id, tweets.author_username, referencing.target_user_id,
        referencing.target_username, referencing.interaction, tweets.created_at
    from referencing
    inner join tweets using (tweet_id)
    where referencing.interaction != 'mention' or tweets.tweet_type != 'retweet'

),

unioned as (

    select * from replies
    union all
    select * from mentions_quotes_and_retweets

),

aggregated as (

    select
        author_id as source_user_id,
        max(author_username) as source_username,
        target_user_id,
        max(target_username) as target_username,
        interaction,
        count(*) as interactions,
        min(created_at) as first_at,
        max(created_at) as last_at
    from unioned
    group by author_id, target_user_id, interaction

),

final as (

    select aggregated.* replace (coalesce(users.username, aggregated.target_username) as target_username)
    from aggregated
    left join users on users.user_id = aggregated.target_user_id

)

select * from final
