{{ config(location=gold_location('conversations')) }}
{#- One row per conversation with at least one reply collected: its root, size, depth, participants and
    first and last reply. A conversation of one tweet and no reply is not one (it would repeat silver.tweets).
    The root is the tweet whose id is the conversation's id; when it was never collected its columns are
    null and root_collected false. Depth: see gold.conversation_links (a lower bound when depth_exact is
    false). -#}

with links as (

    select * from {{ ref('conversation_links') }}

),

roots as (

    select conversation_id, true as collected, author_id as root_author_id,
        author_username as root_author_username, created_at as root_created_at
    from links
    where tweet_id = conversation_id

),

aggregated as (

    select
        conversation_id,
        count(*) as size,
        count(*) filter (where tweet_id != conversation_id) as replies,
        max(depth) as depth,
        bool_and(depth_exact) as depth_exact,
        count(distinct author_id) as participants,
        min(created_at) filter (where tweet_id != conversation_id) as first_reply_at,
        max(created_at) filter (where tweet_id != conversation_id) as last_reply_at
    from links
    group by conversation_id

),

final as (

    select
        aggregated.conversation_id,
        aggregated.conversation_id as root_tweet_id,
        coalesce(roots.collected, false) as root_collected,
        roots.root_author_id,
        roots.root_author_username,
        roots.root_created_at,
        aggregated.size,
        aggregated.replies,
        aggregated.depth,
        aggregated.depth_exact,
        aggregated.participants,
        aggregated.first_reply_at,
        aggregated.last_reply_at
    from aggregated
    left join roots using (conversation_id)

)

select * from final
