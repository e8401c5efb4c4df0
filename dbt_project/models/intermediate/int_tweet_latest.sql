{#- The batch's latest observation of each tweet (by page id and position), with its first and last
    observation times in the batch and where it was seen (seen_in: 'data' when any observation was a
    page's own tweet, 'includes' when it was only ever an expansion). An observation in a page's data
    outranks one in another page's includes, however recent: the tweet's stream is the one that
    collected it, and an expansion may carry fewer fields (twarc2 flatten inlines no entities); so
    last_seen_at is the last observation of the winner's kind. Most tweets are seen once: only the repeated ones go through a window,
    so the wide observation rows are never sorted. -#}

with observations as (

    select tweet_id, page_id, position, observed_at, bronze_file, page_number, observed_in
    from {{ ref('stg_tweets') }}

),

repeated as (

    select tweet_id
    from observations
    group by tweet_id
    having count(*) > 1

),

single as (

    select
        tweet_id, page_id, position, observed_at as first_seen_at, observed_at as last_seen_at,
        observed_in as seen_in
    from observations
    anti join repeated using (tweet_id)

),

multiple as (

    select
        tweet_id,
        page_id,
        position,
        min(observed_at) over (partition by tweet_id) as first_seen_at,
        -- the winner's kind: its last_seen_at is its own observed_at, which the entity tables join on
        max(observed_at) over (partition by tweet_id, observed_in) as last_seen_at,
        min(observed_in) over (partition by tweet_id) as seen_in  -- 'data' < 'includes'
    from observations
    semi join repeated using (tweet_id)
    qualify row_number() over (partition by tweet_id order by observed_in, {{ latest_first() }}) = 1

)

select * from single
union all
select * from multiple
