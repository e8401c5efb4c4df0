{#- The batch's latest observation of each tweet (by page id and position), with its first and last
    observation times in the batch. Most tweets are seen once: only the repeated ones go through a window,
    so the wide observation rows are never sorted. -#}

with observations as (

    select tweet_id, page_id, position, observed_at, bronze_file, page_number
    from {{ ref('stg_tweets') }}

),

repeated as (

    select tweet_id
    from observations
    group by tweet_id
    having count(*) > 1

),

single as (

    select tweet_id, page_id, position, observed_at as first_seen_at, observed_at as last_seen_at
    from observations
    anti join repeated using (tweet_id)

),

multiple as (

    select
        tweet_id,
        page_id,
        position,
        min(observed_at) over (partition by tweet_id) as first_seen_at,
        max(observed_at) over (partition by tweet_id) as last_seen_at
    from observations
    semi join repeated using (tweet_id)
    qualify row_number() over (partition by tweet_id order by {{ latest_first() }}) = 1

)

select * from single
union all
select * from multiple
