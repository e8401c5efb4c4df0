"""The thin slice end to end: sample source -> bronze -> silver -> gold -> quality gate -> publish.

Runs the real `tweetlake` console script (as a user would) on a local lake and on S3 (moto server).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from foundation.lake import Lake
from foundation.settings import Settings
from tests.bronze_reader import bronze_tweet_ids
from tests.fixtures_lake import query

pytestmark = pytest.mark.slow
TWEETLAKE = str(Path(sys.executable).with_name("tweetlake"))


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(settings.env_for_subprocess())
    return subprocess.run([TWEETLAKE, *args], env=env, capture_output=True, text=True, timeout=600)


def test_refresh_builds_every_layer(lake_settings: Settings) -> None:
    result = run_cli(lake_settings, "refresh", "--tweets", "1500", "--days", "2", "--end-date", "2026-11-20")
    assert result.returncode == 0, result.stderr[-3000:]
    lake = Lake.from_settings(lake_settings)

    # bronze: pages as received, every tweet id there once or more (re-observations)
    collected = bronze_tweet_ids(lake, expansions=False)
    assert len(collected) == 1500
    ids = bronze_tweet_ids(lake)  # with the tweets pages only include (retweeted and quoted originals)

    # silver: one row per tweet, every bronze tweet exactly once
    silver = lake.url("_staging/silver", "tweets")
    rows, distinct = query(
        lake_settings, f"select count(*), count(distinct tweet_id) from read_parquet('{silver}/*/*.parquet')"
    )[0]
    assert rows == distinct == len(ids)
    silver_ids = {
        r[0] for r in query(lake_settings, f"select tweet_id from read_parquet('{silver}/*/*.parquet')")
    }
    assert silver_ids == ids

    # gold: published as Parquet and CSV, same rows
    gold = lake.url("gold", "tweets_export")
    # (the tweets the streams collected: those only seen as expansions belong to no stream)
    assert query(lake_settings, f"select count(*) from read_parquet('{gold}.parquet')")[0][0] == len(
        collected
    )
    assert query(lake_settings, f"select count(*) from read_csv('{gold}.csv')")[0][0] == len(collected)

    # quality: a run record and the report, and the CLI said where everything is
    assert lake.glob("quality/runs/*.json")
    assert lake.exists("quality/docs/index.html")
    assert "silver/tweets" in result.stdout and "gold/tweets_export" in result.stdout
    assert lake.url("quality", "index.html") in result.stdout


def test_failed_gate_keeps_last_good_gold(local_settings: Settings) -> None:
    ok = run_cli(local_settings, "refresh", "--tweets", "500", "--days", "1", "--end-date", "2026-11-20")
    assert ok.returncode == 0, ok.stderr[-3000:]
    lake = Lake.from_settings(local_settings)
    published = lake.read_bytes("gold/tweets_export.parquet")

    # Corrupt the staged gold table (negative likes), as a bad model change would.
    staged = lake.url("_staging", "gold", "tweets_export.parquet")
    duckdb.execute(
        f"copy (select * replace (-1 - like_count as like_count) from read_parquet('{staged}')) "
        f"to '{staged}.bad' (format parquet)"
    )
    os.replace(f"{staged}.bad", staged)

    validate = run_cli(local_settings, "validate")
    assert validate.returncode == 3
    assert "gold.tweets_export" in validate.stderr
    assert "expect_column_values_to_be_between" in validate.stderr and "like_count" in validate.stderr

    # The refresh path never publishes after a failed gate: the last good gold stays.
    assert lake.read_bytes("gold/tweets_export.parquet") == published


def test_cli_errors_are_clear(tmp_path: Path, local_settings: Settings) -> None:
    missing = run_cli(local_settings, "ingest", "--source", "replay", "--path", str(tmp_path / "nope"))
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr

    no_token = run_cli(local_settings, "ingest", "--source", "api")
    assert no_token.returncode != 0
    assert "TWITTER_BEARER_TOKEN" in no_token.stderr and "Traceback" not in no_token.stderr

    for cmd in ("ingest", "build", "validate", "publish", "refresh", "report"):
        helped = run_cli(local_settings, cmd, "--help")
        assert helped.returncode == 0 and "--lake" in helped.stdout
