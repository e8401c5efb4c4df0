{#- Every tweet of the new bronze files (stg_bronze_files), one row per observation, straight from the
    JSON: the envelope, response.data, response.includes.tweets (the tweets the page's tweets reply to,
    quote or retweet: observations too, observed_in 'includes', numbered after the page's own) and the
    ids and usernames of the page's users only (bronze_columns('tweets')), unnested as it is read, so the
    pages' lists of tweets are never materialized. Each row carries its page's user ids and usernames (two lists per page, shared by the
    page's rows, not copied), where stg_tweets finds the author. Ephemeral: stg_tweets types it in the
    same query. -#}
{{ config(materialized='ephemeral') }}
-- depends_on: {{ source('bronze', 'pages') }}
-- depends_on: {{ ref('stg_bronze_files') }}

with source as (

    {{ bronze_pages('tweets') }}

),

page_users as (

    -- per page, before the unnest (in the unnest's own select list they would be computed per tweet)
    select
        *,
        list_transform(response.includes.users, lambda u: u.id) as page_user_ids,
        list_transform(response.includes.users, lambda u: u.username) as page_usernames
    from source

),

observations as (

    select
        page_id,
        bronze_file,
        source,
        endpoint,
        stream,
        page_number,
        observed_at,
        -- one unnest of both lists (a second select of page_users would materialize it, lists and all)
        unnest(list_concat(response.data, response.includes.tweets)) as tweet,
        -- positions counted, not taken from a second list_concat (a copy of both lists of tweets)
        unnest(range(1, coalesce(len(response.data), 0) + coalesce(len(response.includes.tweets), 0) + 1)) as position,
        coalesce(len(response.data), 0) as data_count,
        page_user_ids,
        page_usernames
    from page_users
    where len(response.data) > 0 or len(response.includes.tweets) > 0

)

select * from observations
