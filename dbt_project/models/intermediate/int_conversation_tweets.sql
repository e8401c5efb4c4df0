{{ config(materialized='view', tags=['gold']) }}
{#- The tweets of conversations, each with the tweet it replies to: what gold conversation_links walks.

    A view, tagged gold too: gold built in its own dbt process (the DAG's gold step) builds it there.
    Retweets are left out (a retweet's conversation is itself; replies go to the original), and so are
    versions superseded by an edit, except a conversation's root (its id is the conversation's id). A reply
    names one tweet it replies to (replied_to); a root has no parent even if the API sent one. -#}

with superseded as (

    select tweet_id from {{ ref('tweet_edits') }} where not is_latest

),

tweets as (

    select tweet_id, conversation_id, author_id, author_username, created_at
    from {{ ref('tweets') }}
    where conversation_id is not null
        and tweet_type is distinct from 'retweet'
        and (tweet_id = conversation_id or tweet_id not in (select tweet_id from superseded))

),

parents as (

    select tweet_id, min(referenced_tweet_id) as parent_tweet_id
    from {{ ref('referenced_tweets') }}
    where reference_type = 'replied_to'
    group by tweet_id

),

final as (

    select
        tweets.conversation_id,
        tweets.tweet_id,
        case when tweets.tweet_id != tweets.conversation_id then parents.parent_tweet_id end as parent_tweet_id,
        tweets.author_id,
        tweets.author_username,
        tweets.created_at
    from tweets
    left join parents using (tweet_id)

)

select * from final
