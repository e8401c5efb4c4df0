{#- The tweets a page includes (includes.tweets: the tweets its tweets reply to, quote or retweet), by
    page: referenced_tweets looks a reference up in the same page. -#}

with source as (

    select * from {{ ref('stg_bronze_pages') }}
    where len(included_tweets) > 0

),

included as (

    select page_id, unnest(included_tweets) as t
    from source

),

renamed as (

    select
        page_id,
        t.id as tweet_id,
        t.author_id as author_id,
        {{ unescape_html('t.text') }} as text
    from included
    where t.id is not null

)

select * from renamed
