"""``tweetlake plan``: counts first, through tweepy over real HTTP to the fake API v2 server.

The fake counts what its search would serve (the same corpus and filters), so the plan is checked against
what an ingest then really reads: the posts and the requests of the same window.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import ConfigError, Secret, Settings, load_settings
from ingestion.ingest import ingest
from ingestion.sources import make_source
from pipeline import cli, steps
from tests.fake_twitter.fixtures import cli_through_fake, forbidden_message
from tests.fake_twitter.server import FakeTwitter, make_tweets

QUERIES = ("#duckdb lang:en", "dbt -is:retweet")
NOW = datetime.now(UTC).replace(microsecond=0)
COUNTS = "/2/tweets/counts/recent"


def corpus(fake: FakeTwitter) -> None:
    """250 and 42 tweets over the last three days (one every 17 and 100 minutes)."""
    fake.search[QUERIES[0]] = make_tweets(250, NOW - timedelta(minutes=5), step=timedelta(minutes=17), seq=0)
    fake.search[QUERIES[1]] = make_tweets(42, NOW - timedelta(minutes=6), step=timedelta(minutes=100), seq=1)


def settings_for(lake: Path, fake: FakeTwitter, **changes: Any) -> Settings:
    return Settings(
        lake=str(lake), queries=QUERIES, accounts=("duckdb",), bearer_token=Secret(fake.token)
    ).with_overrides(**changes)


def window(hours_back: int) -> dict[str, str]:
    """A window as the CLI takes it (and the API: second granularity, ``Z``)."""
    at = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "start_time": (NOW - timedelta(hours=hours_back)).strftime(at),
        "end_time": (NOW - timedelta(minutes=1)).strftime(at),
    }


def no_wait(seconds: float) -> None:
    raise AssertionError(f"no wait expected here ({seconds} s)")


def in_window(fake: FakeTwitter, query: str, start: str, end: str) -> int:
    def ts(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return sum(1 for t in fake.search[query] if ts(start) <= ts(t["created_at"]) < ts(end))


def test_plan_counts_each_query_as_the_ingest_then_reads_it(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    corpus(fake_twitter)
    settings = settings_for(tmp_path / "lake", fake_twitter)
    asked = window(50)
    plan = steps.run_plan(settings, session=twitter_session, sleep=no_wait, **asked)

    counts = fake_twitter.sent(COUNTS)
    assert len(counts) == 2 and {r.params["query"] for r in counts} == set(QUERIES)
    assert all(
        r.params["granularity"] == "day" and r.params["start_time"] == asked["start_time"] for r in counts
    )
    assert not fake_twitter.sent("/search/")  # no post read
    expected = [in_window(fake_twitter, q, asked["start_time"], asked["end_time"]) for q in QUERIES]
    assert [e.posts for e in plan.estimates] == expected and 0 < expected[1] < expected[0] < 250
    assert [e.requests for e in plan.estimates] == [math.ceil(n / 100) for n in expected]
    assert plan.cost == pytest.approx(sum(expected) * 0.005)

    # the ingest of that window reads exactly the planned posts, in the planned requests
    source = make_source("api", settings, session=twitter_session, sleep=lambda _: None, **asked)
    summary = ingest(source, Lake(settings.lake))
    searches = fake_twitter.sent("/search/")
    assert len(searches) == plan.requests and summary.tweets == plan.posts
    said = plan.describe()
    assert f"{plan.posts:,}" in said and "$0.005 per post read" in said and "@duckdb" in said
    assert "the documented pay-per-use price" in said
    assert "this month: 0 posts read so far" in said and "TWEETLAKE_MONTHLY_POST_BUDGET" not in said

    # after that ingest, against budgets: the ledger's reads count, the run's budget splits the pull
    budgeted = settings.with_overrides(monthly_post_budget=plan.posts + 50, max_posts_per_run=100)
    again = steps.run_plan(budgeted, session=twitter_session, sleep=no_wait, **asked).describe()
    assert f"this month: {plan.posts:,} posts read so far" in again
    assert (
        f"TWEETLAKE_MONTHLY_POST_BUDGET {plan.posts + 50:,}: 50 left this month; the plan does not fit"
        in again
    )
    assert "over TWEETLAKE_MAX_POSTS_PER_RUN (100): the next ingest stops there" in again


def test_plan_counts_since_the_watermark_after_an_ingest(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    corpus(fake_twitter)
    settings = settings_for(tmp_path / "lake", fake_twitter, accounts=())
    lake = Lake(settings.lake)
    ingest(make_source("api", settings, session=twitter_session, sleep=lambda _: None), lake)
    newer = make_tweets(7, NOW - timedelta(minutes=1), step=timedelta(seconds=20), seq=2)
    fake_twitter.search[QUERIES[0]] += newer

    plan = steps.run_plan(settings, session=twitter_session, sleep=no_wait)
    sent = fake_twitter.sent(COUNTS)
    assert all("since_id" in r.params for r in sent)
    assert [e.posts for e in plan.estimates] == [7, 0]
    assert [e.requests for e in plan.estimates] == [1, 1]  # a pull with nothing new still asks once
    assert plan.estimates[0].window.startswith("since ")


def test_plan_waits_out_a_429_and_names_a_forbidden_counts_endpoint(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    corpus(fake_twitter)
    settings = settings_for(tmp_path / "lake", fake_twitter)
    sleeps: list[float] = []
    fake_twitter.fail(429, path=COUNTS, headers=fake_twitter.rate_limit_reset(20))
    plan = steps.run_plan(settings, session=twitter_session, sleep=sleeps.append, **window(20))
    assert len(plan.estimates) == 2 and sleeps and 15 <= max(sleeps) <= 30

    message = forbidden_message(
        fake_twitter, COUNTS, lambda: steps.run_plan(settings, session=twitter_session, **window(20))
    )
    assert "403" in message and "counts_recent" in message and "client-not-enrolled" in message


def test_the_plan_command_prints_the_table_at_the_configured_price(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus(fake_twitter)
    monkeypatch.setenv("TWEETLAKE_QUERIES", ";".join(QUERIES))
    monkeypatch.setenv("TWEETLAKE_ACCOUNTS", "")
    monkeypatch.setenv("TWEETLAKE_PRICE_PER_POST", "0.01")
    cli_through_fake(monkeypatch, fake_twitter, twitter_session, "run_plan")
    asked = window(30)
    code = cli.main(
        [
            "plan",
            "--lake",
            str(tmp_path / "lake"),
            "--start-time",
            asked["start_time"],
            "--end-time",
            asked["end_time"],
        ]
    )
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out
    posts = sum(in_window(fake_twitter, q, asked["start_time"], asked["end_time"]) for q in QUERIES)
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert f"{posts:,}" in total and f"${posts * 0.01:,.2f}" in total
    assert "TWEETLAKE_PRICE_PER_POST;" in out and fake_twitter.token not in out
    # a plan writes nothing but the API's usage (here: not available, the fake's project may not read it)
    assert [p.relative_to(tmp_path / "lake").as_posix() for p in (tmp_path / "lake").rglob("*.json")] == [
        f"_state/spend/usage/{datetime.now(UTC):%Y-%m-%d}.json"
    ]
    assert "API usage (GET /2/usage/tweets): not available (this app's project may not read its usage" in out


def test_a_price_that_is_not_a_number_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="TWEETLAKE_PRICE_PER_POST='five cents' is not a number"):
        load_settings({"TWEETLAKE_PRICE_PER_POST": "five cents"})
