"""A budget of posts per run (``TWEETLAKE_MAX_POSTS_PER_RUN``): checked before each request, a run stops
cleanly at it, and the next runs carry on from the oldest post landed until the gap is closed: nothing
read twice, nothing skipped. tweepy over real HTTP to the fake API v2 server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake, LakeError
from foundation.layout import SPEND
from foundation.settings import ConfigError, Secret, Settings, load_settings
from ingestion import spend
from ingestion.http import ApiError
from ingestion.ingest import IngestSummary, ingest
from ingestion.sources import make_source
from ingestion.watermarks import WatermarkStore
from tests.bronze_reader import bronze
from tests.fake_twitter.server import FakeTwitter, make_tweets

QUERIES = ("#duckdb lang:en", "dbt -is:retweet")
NOW = datetime.now(UTC).replace(microsecond=0)
SEARCH = "/2/tweets/search/recent"


def run(
    fake: FakeTwitter, session: requests.Session, lake: Lake, budget: int | None, monthly: int | None = None
) -> IngestSummary:
    settings = Settings(
        lake=lake.root,
        queries=QUERIES,
        accounts=(),
        bearer_token=Secret(fake.token),
        max_posts_per_run=budget,
        monthly_post_budget=monthly,
    )
    return ingest(make_source("api", settings, session=session, sleep=lambda _: None), lake)


def landed(lake: Lake, query: str) -> list[str]:
    return [i for record in bronze(lake) if record.envelope["stream"] == query for i in record.tweet_ids]


def sent(fake: FakeTwitter, start: int) -> list[dict[str, Any]]:
    return [r.params for r in fake.sent(SEARCH)[start:]]


def test_a_budget_stops_each_run_cleanly_and_the_next_runs_close_the_gap(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERIES[0]] = make_tweets(250, NOW - timedelta(minutes=9), seq=0)
    fake_twitter.search[QUERIES[1]] = make_tweets(
        42, NOW - timedelta(minutes=8), step=timedelta(hours=1), seq=1
    )
    every = sorted(t["id"] for t in fake_twitter.search[QUERIES[0]])
    lake = Lake(str(tmp_path / "lake"))
    marks = WatermarkStore(lake)

    # run 1: 100 + 20 posts (the second page asked for only what the budget leaves), then it stops
    first = run(fake_twitter, twitter_session, lake, 120)
    assert [p["max_results"] for p in sent(fake_twitter, 0)] == ["100", "20"]
    assert first.tweets == 120 and len(first.stops) == 1
    assert (
        "stopped after 2 page(s) at the run's budget of 120 posts read (TWEETLAKE_MAX_POSTS_PER_RUN)"
        in (first.stops[0])
    )
    assert "stopped:" in first.describe()
    assert any(QUERIES[1] in p and "not pulled" in p for p in first.problems)  # the budget was spent
    mark = marks.get("search_recent", QUERIES[0])
    assert mark.since_id is None and mark.pending_newest_id == every[-1]
    assert mark.pending_until_id == min(landed(lake, QUERIES[0]), key=int)

    # run 2: the gap first (older than the oldest landed), 120 more, stopped again
    second = run(fake_twitter, twitter_session, lake, 120)
    asked = sent(fake_twitter, 2)
    assert asked[0]["until_id"] == mark.pending_until_id and second.tweets == 120
    assert marks.get("search_recent", QUERIES[0]).since_id is None

    # run 3: the last 10 of the gap close it (the watermark moves to the newest landed), then the second query
    third = run(fake_twitter, twitter_session, lake, 120)
    assert third.tweets == 10 + 42 and not third.stops and not third.problems
    closed = marks.get("search_recent", QUERIES[0])
    assert closed.since_id == every[-1] and closed.pending_until_id is None
    ids = landed(lake, QUERIES[0])
    assert sorted(ids, key=int) == every  # each post once: none read twice, none skipped

    # run 4: only what is new since then
    fake_twitter.search[QUERIES[0]] += make_tweets(
        5, NOW - timedelta(minutes=1), step=timedelta(seconds=5), seq=2
    )
    fourth = run(fake_twitter, twitter_session, lake, 120)
    assert fourth.tweets == 5 and sent(fake_twitter, 0)[-2]["since_id"] == every[-1]
    assert len(landed(lake, QUERIES[0])) == len(set(landed(lake, QUERIES[0]))) == 255

    # the spend ledger holds every read: per run and stream, with the stopped pulls marked incomplete
    records = spend.ledger(lake)
    assert sum(r.posts for r in records) == 120 + 120 + 52 + 5 == spend.posts_this_month(lake)
    assert [(r.stream, r.posts, r.requests, r.complete) for r in records[:2]] == [
        (QUERIES[0], 120, 2, False),
        (QUERIES[0], 120, 2, False),
    ]
    assert {r.run_id for r in records} == {s.run_id for s in (first, second, third, fourth)}


def test_without_a_budget_nothing_changes(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERIES[0]] = make_tweets(250, NOW - timedelta(minutes=9), seq=0)
    lake = Lake(str(tmp_path / "lake"))
    summary = run(fake_twitter, twitter_session, lake, None)
    assert summary.tweets == 250 and not summary.stops
    assert all(p["max_results"] == "100" for p in sent(fake_twitter, 0))


@pytest.mark.parametrize("raw", ["5", "lots", "-100"])
def test_a_budget_that_is_not_a_count_of_posts_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="TWEETLAKE_MAX_POSTS_PER_RUN"):
        load_settings({"TWEETLAKE_MAX_POSTS_PER_RUN": raw})
    assert load_settings({"TWEETLAKE_MAX_POSTS_PER_RUN": "10_000"}).max_posts_per_run == 10_000


def test_the_monthly_budget_counts_the_ledger_and_a_failed_pull_is_billed_too(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERIES[0]] = make_tweets(250, NOW - timedelta(minutes=9), seq=0)
    lake = Lake(str(tmp_path / "lake"))
    # page 2 fails with a 503 storm longer than the retries: the 100 posts of page 1 were read (billed)
    fake_twitter.fail(503, times=-1, page=2, path=SEARCH)
    with pytest.raises(ApiError):
        run(fake_twitter, twitter_session, lake, None)
    [failed] = spend.ledger(lake)
    assert (failed.posts, failed.requests, failed.complete, failed.source) == (100, 1, False, "api")

    fake_twitter.faults.clear()
    summary = run(fake_twitter, twitter_session, lake, None, monthly=180)  # 100 of it already spent
    assert summary.tweets == 80 and "this month's budget of 180 (100 read before)" in summary.stops[0]
    assert "TWEETLAKE_MONTHLY_POST_BUDGET" in summary.stops[0]
    assert spend.posts_this_month(lake) == 180

    # a damaged record stops the next budgeted run, naming it, instead of checking a wrong sum
    [rel] = [r for r in lake.glob(f"{SPEND}/*/*.json") if summary.run_id in r][:1]
    lake.write_bytes(rel, b"{not json")
    with pytest.raises(LakeError, match="not a spend ledger record") as damaged:
        run(fake_twitter, twitter_session, lake, None, monthly=1000)
    assert rel in str(damaged.value)
