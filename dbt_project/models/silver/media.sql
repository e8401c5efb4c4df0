{{ config(location=silver_location('media')) }}
{#- One row per media item (media_key) seen in any page's includes.media: photos, videos and GIFs, the
    latest observation winning (a video's view count grows). Unpartitioned: an incremental build merges
    the new observations into the existing table. -#}

with included as (

    {{ latest_included('included_media', 'media_key') }}

),

latest as (

    select
        item.media_key as media_key,
        item.type as media_type,
        item.url as url,
        item.preview_image_url as preview_image_url,
        item.alt_text as alt_text,
        item.width as width,
        item.height as height,
        item.duration_ms as duration_ms,
        item.public_metrics.view_count as view_count,
        item.variants as variants,
        first_seen_at,
        last_seen_at,
        bronze_file
    from included

),

final as (

    {{ merge_included('media_key') }}

)

select * from final
