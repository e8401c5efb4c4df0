"""The refresh DAG's ingest of an interval older than recent search's 7 days: its queries are read with
full-archive search (tweepy's ``search_all_tweets`` against the fake API v2 over real HTTP), and an account
without full-archive access fails the task at once, saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from tests.bronze_reader import bronze
from tests.fake_twitter.server import FakeTwitter, make_tweets

QUERY = "#duckdb lang:en"
NOW = datetime.now(UTC).replace(microsecond=0, second=0, minute=0)
START = NOW - timedelta(days=10)  # an interval of ten days ago: beyond recent search


@pytest.fixture
def old_interval_ingest(
    monkeypatch: pytest.MonkeyPatch,
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
) -> Any:
    from orchestration import refresh

    monkeypatch.setenv("TWEETLAKE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("TWEETLAKE_QUERIES", QUERY)
    monkeypatch.setenv("TWEETLAKE_ACCOUNTS", "")
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", fake_twitter.token)
    real = refresh.source_options
    # the session that reaches the fake API (tweepy's host is hard-coded), beside the run's real options
    monkeypatch.setattr(
        refresh,
        "source_options",
        lambda params, interval: {
            **real(params, interval),
            "session": twitter_session,
            "sleep": lambda _: None,
        },
    )
    fake_twitter.search[QUERY] = make_tweets(30, START + timedelta(minutes=50), step=timedelta(minutes=1))
    interval = refresh.Interval.from_context(START, START + timedelta(hours=1))
    return lambda: refresh.ingest_stream({"kind": "query", "name": QUERY}, {"source": "api"}, interval)


def test_an_interval_older_than_seven_days_is_read_with_full_archive_search(
    old_interval_ingest: Any, fake_twitter: FakeTwitter, tmp_path: Path
) -> None:
    done = old_interval_ingest()
    assert done["tweets"] == 30
    assert {r.path for r in fake_twitter.requests} == {"/2/tweets/search/all"}
    records = bronze(Lake(str(tmp_path / "lake")), "search_all")
    assert sum(len(r.tweet_ids) for r in records) == 30


def test_without_full_archive_access_the_task_fails_at_once_saying_why(
    old_interval_ingest: Any, fake_twitter: FakeTwitter
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    fake_twitter.forbidden.add("/2/tweets/search/all")
    with pytest.raises(AirflowFailException) as failed:  # not retried: the API would refuse again
        old_interval_ingest()
    message = str(failed.value)
    assert message.startswith("403 Forbidden from search_all") and "client-not-enrolled" in message
    assert fake_twitter.token not in message
