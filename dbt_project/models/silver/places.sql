{{ config(location=silver_location('places')) }}
{#- One row per place (a tweet's geo.place_id) seen in any page's includes.places, the latest observation
    winning. The bounding box is GeoJSON's: [west, south, east, north] in degrees. Unpartitioned. -#}

with included as (

    {{ latest_included('included_places', 'id') }}

),

latest as (

    select
        item.id as place_id,
        item.full_name as full_name,
        item.name as name,
        item.country as country,
        item.country_code as country_code,
        item.place_type as place_type,
        item.geo.bbox as bbox,
        first_seen_at,
        last_seen_at,
        bronze_file
    from included

),

final as (

    {{ merge_included('place_id') }}

)

select * from final
