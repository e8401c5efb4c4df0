"""dbt silver and gold on an S3 lake (moto server): incremental builds, swaps without stale objects."""

from __future__ import annotations

from datetime import date

import pytest

from foundation.lake import Lake
from foundation.layout import STAGING_GOLD
from foundation.settings import Settings
from foundation.workdir import work_dir
from pipeline.steps import run_build, run_ingest
from tests.bronze_reader import bronze_tweet_ids
from tests.fixtures_lake import query

pytestmark = pytest.mark.slow
PARTITIONED = ("tweets", "tweet_metrics", "hashtags", "mentions", "urls", "referenced_tweets")
GOLD = ("user_engagement_daily", "top_tweets", "hashtag_trends_daily", "sentiment_daily", "interactions")


def silver_ids(settings: Settings) -> list[str]:
    tweets = Lake.from_settings(settings).url("_staging/silver", "tweets")
    return [r[0] for r in query(settings, f"select tweet_id from read_parquet('{tweets}/*/*.parquet')")]


def test_incremental_build_on_s3(s3_settings: Settings) -> None:
    lake = Lake.from_settings(s3_settings)
    run_ingest(s3_settings, "sample", tweets=600, days=2, end_date=date(2026, 11, 19))
    run_build(s3_settings)
    first = silver_ids(s3_settings)
    assert len(first) == len(set(first)) == len(bronze_tweet_ids(lake))

    # one more day, and a lost .duckdb file: the state is read from the lake. A stale object in a partition
    # the new day rewrites (as DuckDB's own partitioned overwrite leaves on S3) must go.
    run_ingest(s3_settings, "sample", tweets=300, days=1, end_date=date(2026, 11, 20))
    stale = "_staging/silver/tweets/dt=2026-11-20/data_7.parquet"
    lake.write_bytes(stale, lake.read_bytes(lake.glob("_staging/silver/tweets/*/data_0.parquet")[0]))
    for leftover in work_dir(s3_settings.lake).glob("tweetlake.duckdb*"):
        leftover.unlink()
    run_build(s3_settings)
    assert not lake.exists(stale)
    ids = silver_ids(s3_settings)
    assert len(ids) == len(set(ids)) and set(ids) == bronze_tweet_ids(lake) and len(ids) > len(first)
    assert len(lake.glob("_state/build/bronze_files/*/*.parquet")) == 3
    assert lake.glob("_state/build/tweet_sentiment/*.parquet") and not lake.exists(
        "_staging/silver/bronze_files"
    )

    # every table is there, one file per partition, nothing temporary left
    for table in PARTITIONED:
        files = list(lake.walk_files(f"_staging/silver/{table}"))
        assert files and all(f.endswith("/data_0.parquet") for f in files), (table, files)
    for table in ("users", "api_errors"):  # small tables: one file
        assert lake.glob(f"_staging/silver/{table}/*.parquet") == [f"_staging/silver/{table}/data_0.parquet"]
    for table in GOLD:
        assert lake.exists(f"{STAGING_GOLD}/{table}.parquet"), table
    export = lake.url(STAGING_GOLD, "tweets_export.parquet")
    # the export holds the collected tweets (not those only seen as another tweet's expansion)
    collected = bronze_tweet_ids(lake, expansions=False)
    assert query(s3_settings, f"select count(*) from read_parquet('{export}')")[0][0] == len(collected)
