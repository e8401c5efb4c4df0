{#- Each page of the new bronze files (stg_bronze_files), empty pages included: its envelope, how many
    tweets it holds, and its includes and errors. Of response.data only the ids are parsed here: the tweets
    themselves are read by stg_bronze_tweets, which never materializes the pages' nested lists. -#}
-- depends_on: {{ source('bronze', 'pages') }}
-- depends_on: {{ ref('stg_bronze_files') }}

with source as (

    {{ bronze_pages('pages') }}

),

renamed as (

    select
        page_id,
        bronze_file,
        ingest_date,
        source,
        endpoint,
        stream,
        run_id,
        run_key,
        page_number,
        observed_at,
        coalesce(len(response.data), 0) as tweet_count,
        response.includes.users as included_users,
        response.includes.tweets as included_tweets,
        response.includes.media as included_media,
        response.includes.polls as included_polls,
        response.includes.places as included_places,
        response.errors as errors
    from source

)

select * from renamed
