{#- The distinct cleaned texts of the new tweets that have never been scored (_state/build/tweet_sentiment keeps
    every scored text's hash in the lake, so no text is ever scored twice, even after --full-refresh). -#}
-- depends_on: {{ ref('stg_tweets') }}
{%- set scored = lake_table_files(state_location('tweet_sentiment')) %}

with texts as (

    select distinct text_hash, text_clean
    from {{ ref('stg_tweets') }}

),

scored as (

    {% if scored -%}
    select text_hash from read_parquet({{ sql_list(scored) }})
    {%- else -%}
    select cast(null as ubigint) as text_hash where false
    {%- endif %}

),

unscored as (

    select texts.*
    from texts
    anti join scored using (text_hash)

)

select * from unscored
