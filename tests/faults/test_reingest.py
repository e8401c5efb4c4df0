"""Fault: a window re-ingested with other content, and bronze objects that go away.

Silver merges new bronze files into what it holds. Re-ingesting a window rewrites that window's bronze
objects (same run key, ingestion/bronze.py); when the second answer holds fewer tweets (deleted since, or
the sample run again with another size), the first answer's tweets must leave silver too. At first they
stayed: the gate's bronze count failed (23,000 silver rows against 21,001 bronze ids) and every later run
failed the same way. Now a build that finds a processed file gone or rewritten rebuilds silver from bronze
(dbt_runtime/runner.py, _bronze_gone).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import Secret, Settings, load_settings
from pipeline import steps
from tests.bronze_reader import bronze, bronze_tweet_ids
from tests.fake_twitter.server import FakeTwitter, make_tweets
from tests.faults.test_process_kills import KILLPOINT
from tests.test_dbt_models import SILVER, read_table, table_rows
from tests.test_dbt_models import query as lake_query

pytestmark = pytest.mark.slow

END = date(2026, 11, 20)


def silver_ids(lake: Lake) -> set[str]:
    return {r[0] for r in lake_query(lake, f"select tweet_id from {read_table(lake, 'silver', 'tweets')}")}


def test_a_sample_day_refreshed_with_another_size_equals_a_rebuild_and_passes_the_gate(
    local_settings: Settings, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    lake = Lake.from_settings(local_settings)
    steps.refresh(local_settings, source_options={"tweets": 1500, "days": 3, "end_date": END})
    first = silver_ids(lake)

    # the last day again, with fewer tweets: its objects are rewritten, the first answer's tweets replaced
    with caplog.at_level(logging.WARNING, logger="dbt_runtime.runner"):
        summary = steps.refresh(local_settings, source_options={"tweets": 300, "days": 1, "end_date": END})
    assert summary.validation is not None and summary.validation.success  # the gate passed (or it raises)
    said = [r.getMessage() for r in caplog.records]
    assert any("gone or rewritten" in m and "rebuilding silver from bronze" in m for m in said), said

    now = silver_ids(lake)
    assert now == bronze_tweet_ids(lake)
    assert first - now, "the rewritten day's first tweets should have left silver"

    # silver equals a full rebuild from the same bronze, table by table
    copy = tmp_path_factory.mktemp("rebuilt") / "lake"
    shutil.copytree(local_settings.lake, copy)
    rebuilt_settings = local_settings.with_overrides(lake=str(copy))
    steps.run_build(rebuilt_settings, full_refresh=True)
    rebuilt = Lake.from_settings(rebuilt_settings)
    for table in SILVER:
        assert table_rows(lake, "silver", table) == table_rows(rebuilt, "silver", table), table


def test_an_api_window_answered_with_fewer_tweets_the_second_time(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_settings: Settings
) -> None:
    """The API's second answer for a window lacks tweets deleted since: silver follows the new answer."""
    query = "#duckdb lang:en"
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=1)).replace(minute=0, second=0)
    end = start + timedelta(hours=6)
    # newest first, all inside the window
    fake_twitter.search[query] = make_tweets(40, end - timedelta(minutes=5), step=timedelta(minutes=8))
    settings = local_settings.with_overrides(
        queries=(query,), accounts=(), bearer_token=Secret(fake_twitter.token), request_timeout=5.0
    )
    lake = Lake.from_settings(settings)
    window = {"start_time": start, "end_time": end, "session": twitter_session}

    steps.run_ingest(settings, "api", **window)
    steps.run_build(settings, select="tag:silver")
    before = silver_ids(lake)
    in_window = {
        t["id"] for t in fake_twitter.search[query] if start <= datetime.fromisoformat(t["created_at"]) < end
    }
    assert before == in_window and len(before) > 10

    deleted = sorted(in_window)[::3]
    fake_twitter.search[query] = [t for t in fake_twitter.search[query] if t["id"] not in deleted]
    steps.run_ingest(settings, "api", **window)
    steps.run_build(settings, select="tag:silver")
    assert silver_ids(lake) == in_window - set(deleted) == bronze_tweet_ids(lake)


def test_a_bronze_object_removed_by_hand_leaves_silver_with_its_tweets(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    steps.run_ingest(local_settings, "sample", tweets=600, days=2, end_date=END)
    steps.run_build(local_settings, select="tag:silver")
    records = bronze(lake)
    gone = next(r.rel for r in records if r.tweet_ids)
    lake.remove([gone])

    steps.run_build(local_settings, select="tag:silver")
    assert silver_ids(lake) == bronze_tweet_ids(lake)
    only_there = {i for r in records if r.rel == gone for i in r.tweet_ids} - bronze_tweet_ids(lake)
    assert only_there and not only_there & silver_ids(lake)


def test_a_bronze_object_removed_while_a_build_reads_bronze_is_left_out_not_fatal(tmp_path: Path) -> None:
    """An ingest replacing its run's objects (or anything else) removes a file between the build's listing
    and its read: the build goes on without it, says so, and does not record it as processed; once the
    window is ingested again, the next build reads it."""
    root = str(tmp_path / "lake")
    settings = load_settings({"TWEETLAKE_LAKE": root})
    lake = Lake(root)
    steps.run_ingest(settings, "sample", tweets=600, days=2, end_date=END)
    victim = sorted(r.rel for r in bronze(lake) if r.tweet_ids)[-1]
    env = dict(
        os.environ,
        TWEETLAKE_TEST_KILL_AT="dbt_runtime.bronze_read:classify_file:1",  # before the first file is read
        TWEETLAKE_TEST_REMOVE_AT_KILL_POINT=lake.url(victim),
        PYTHONPATH=os.pathsep.join(filter(None, [str(KILLPOINT), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "build", "--lake", root],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"left out: {lake.url(victim)}" in done.stderr
    assert silver_ids(lake) == bronze_tweet_ids(lake)
    processed = lake_query(lake, f"select bronze_file from {read_table(lake, 'state', 'bronze_files')}")
    assert victim not in {name for (name,) in processed} and len(processed) > 3

    steps.run_ingest(settings, "sample", tweets=600, days=2, end_date=END)  # the window again: it is back
    assert lake.exists(victim)
    steps.run_build(settings)
    assert silver_ids(lake) == bronze_tweet_ids(lake)
