{#- Every bucket of the counts pages of the new bronze files (stg_bronze_files.counts_path): one row per
    (page, bucket), renamed and cast. The granularity is the one asked for (the API's default, hour, when
    the request named none); the query is the request's, else the stream's. -#}
-- depends_on: {{ ref('stg_bronze_files') }}

with source as (

    select files.bronze_file, part.envelope, part.response
    from ({{ read_bronze_counts(bronze_files_to_read('counts')) }}) as part
    inner join {{ ref('stg_bronze_files') }} as files on files.counts_path = part.filename

),

buckets as (

    select
        bronze_file,
        envelope,
        unnest(response.data) as bucket,
        generate_subscripts(response.data, 1) as position
    from source
    where len(response.data) > 0

),

renamed as (

    select
        coalesce(envelope.request.query, envelope.stream) as query,
        envelope.stream_key as stream_key,
        envelope.source as source,
        envelope.endpoint as endpoint,
        coalesce(envelope.request.granularity, 'hour') as granularity,
        cast(bucket.start as timestamptz) as window_start,
        cast(bucket."end" as timestamptz) as window_end,
        bucket.tweet_count as tweet_count,
        cast(envelope.fetched_at as timestamptz) as fetched_at,
        envelope.run_id as run_id,
        coalesce(envelope.page_number, 0) as page_number,
        position,
        bronze_file
    from buckets

)

select * from renamed
