{{ config(location=gold_location('conversation_links')) }}
{#- Every tweet of a conversation that has replies, with the tweet it replies to and its depth: the parent
    links of gold.conversations, flat (one row per tweet) so a CSV export can hold them.

    depth is the number of reply links from the root, walked down from it (a recursive CTE). The root is
    known by its id (the conversation's id) even when it was never collected, so a reply to it is at depth
    1 either way. A chain that stops at a parent never collected (not the root) is walked from that parent
    as if it were at depth 1, the least it can be: the depths below it are lower bounds, and depth_exact is
    false. Each tweet has one parent at most and the root none, so the walk ends; a tweet it never reaches
    (replies that point at each other in a cycle: never seen in real data) keeps a null depth, and the
    gate's not-null expectation on gold.conversations.depth names it. -#}

with recursive nodes as (

    select * from {{ ref('int_conversation_tweets') }}

),

with_replies as (

    select conversation_id from nodes where tweet_id != conversation_id group by conversation_id

),

anchors as (

    select conversation_id, conversation_id as tweet_id, 0 as depth, true as depth_exact
    from with_replies
    union all
    select distinct child.conversation_id, child.parent_tweet_id as tweet_id, 1 as depth, false as depth_exact
    from nodes as child
    where child.parent_tweet_id is not null
        and child.parent_tweet_id != child.conversation_id
        and not exists (
            select 1 from nodes as parent
            where parent.tweet_id = child.parent_tweet_id and parent.conversation_id = child.conversation_id
        )

),

walk as (

    select conversation_id, tweet_id, depth, depth_exact from anchors
    union all
    select child.conversation_id, child.tweet_id, walk.depth + 1 as depth, walk.depth_exact
    from walk
    inner join nodes as child
        on child.conversation_id = walk.conversation_id and child.parent_tweet_id = walk.tweet_id

),

final as (

    select
        nodes.conversation_id,
        nodes.tweet_id,
        nodes.parent_tweet_id,
        walk.depth,
        coalesce(walk.depth_exact, false) as depth_exact,
        nodes.author_id,
        nodes.author_username,
        nodes.created_at
    from nodes
    inner join with_replies using (conversation_id)
    left join walk
        on walk.conversation_id = nodes.conversation_id and walk.tweet_id = nodes.tweet_id

)

select * from final
