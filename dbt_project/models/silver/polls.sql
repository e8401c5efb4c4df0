{{ config(location=silver_location('polls')) }}
{#- One row per poll seen in any page's includes.polls, the latest observation winning (votes grow until
    the poll closes). Unpartitioned, merged like media. -#}

with included as (

    {{ latest_included('included_polls', 'id') }}

),

latest as (

    select
        item.id as poll_id,
        item.options as options,
        len(item.options) as option_count,
        list_sum(list_transform(item.options, lambda o: o.votes)) as total_votes,
        item.duration_minutes as duration_minutes,
        cast(item.end_datetime as timestamptz) as end_at,
        item.voting_status as voting_status,
        first_seen_at,
        last_seen_at,
        bronze_file
    from included

),

final as (

    {{ merge_included('poll_id') }}

)

select * from final
