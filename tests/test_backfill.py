"""``tweetlake backfill``: full-archive search in windows, through tweepy over real HTTP to the fake API v2
server (``GET /2/tweets/search/all``): months back, resumable after a failure or a budget stop, idempotent,
and a clear message for an app without full-archive access."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import Secret, Settings
from ingestion.backfill import Coverage
from ingestion.http import ApiError
from pipeline import cli, steps
from tests.bronze_reader import bronze
from tests.fake_twitter.fixtures import cli_through_fake, forbidden_message
from tests.fake_twitter.server import FakeTwitter, make_tweets

QUERY = "#duckdb lang:en"
ARCHIVE = "/2/tweets/search/all"
NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = (NOW - timedelta(days=60)).replace(hour=0, minute=0, second=0)
UNTIL = SINCE + timedelta(days=10)


def settings(lake: Path, fake: FakeTwitter, **changes: Any) -> Settings:
    base = Settings(lake=str(lake), queries=(QUERY,), accounts=(), bearer_token=Secret(fake.token))
    return base.with_overrides(**changes)


def archive(fake: FakeTwitter) -> list[dict[str, Any]]:
    """A tweet every 3 hours from 70 days ago to now: months older than recent search reaches."""
    fake.search[QUERY] = make_tweets(70 * 8, NOW - timedelta(minutes=30), step=timedelta(hours=3))
    return fake.search[QUERY]


def in_range(tweets: list[dict[str, Any]], start: datetime, end: datetime) -> set[str]:
    def ts(t: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))

    return {t["id"] for t in tweets if start <= ts(t) < end}


def landed(lake: Lake) -> Counter[str]:
    return Counter(i for record in bronze(lake) for i in record.tweet_ids)


def backfill(settings: Settings, session: requests.Session, **kw: Any) -> Any:
    return steps.run_backfill(settings, SINCE, UNTIL, session=session, sleep=lambda _: None, **kw)


def test_a_backfill_lands_each_window_once_and_a_rerun_reads_nothing_again(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    tweets = archive(fake_twitter)
    s = settings(tmp_path / "lake", fake_twitter)
    lake = Lake(s.lake)
    [summary] = backfill(s, twitter_session)
    assert (summary.windows, summary.done, summary.skipped) == (10, 10, 0)
    sent = fake_twitter.sent(ARCHIVE)
    assert len(sent) == 10 and not fake_twitter.sent("/search/recent")
    assert sent[0].params["start_time"] == SINCE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert landed(lake) == Counter(in_range(tweets, SINCE, UNTIL)) and summary.tweets == 80
    assert all(r.rel.startswith("bronze/source=api/endpoint=search_all/") for r in bronze(lake))
    assert len(Coverage(lake, QUERY).complete()) == 10
    assert not lake.glob("_state/watermarks/**/*.json")  # a backfill moves no watermark

    [again] = backfill(s, twitter_session)
    assert (again.done, again.skipped) == (0, 10) and len(fake_twitter.sent(ARCHIVE)) == 10


def test_a_failed_window_stops_the_backfill_and_the_rerun_carries_on(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    tweets = archive(fake_twitter)
    s = settings(tmp_path / "lake", fake_twitter)
    lake = Lake(s.lake)
    fake_twitter.fail(
        503,
        times=-1,
        when=lambda r: r.path == ARCHIVE and r.params["start_time"] > iso(SINCE + timedelta(days=3, hours=1)),
    )
    with pytest.raises(ApiError):
        backfill(s, twitter_session)
    assert len(Coverage(lake, QUERY).complete()) == 4  # the windows before the failure are recorded
    fake_twitter.faults.clear()
    [rerun] = backfill(s, twitter_session)
    assert (rerun.skipped, rerun.done) == (4, 6)
    assert landed(lake) == Counter(in_range(tweets, SINCE, UNTIL))  # each tweet once


def test_a_budget_stops_the_backfill_cleanly_and_the_next_run_finishes_it(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    tweets = archive(fake_twitter)
    s = settings(tmp_path / "lake", fake_twitter, max_posts_per_run=36)  # the budget of the whole backfill
    lake = Lake(s.lake)
    [first] = backfill(s, twitter_session)
    assert first.stopped and "TWEETLAKE_MAX_POSTS_PER_RUN" in first.stopped and first.tweets <= 36
    assert first.done == 4 and "stopped:" in first.describe()  # 8 a day: 4 whole days, the 5th cut
    [second] = backfill(s, twitter_session)
    [third] = backfill(s, twitter_session)
    assert (second.skipped, third.skipped + third.done) == (4, 10) and not third.stopped
    assert landed(lake) == Counter(in_range(tweets, SINCE, UNTIL))


def test_without_full_archive_access_the_backfill_says_what_to_do(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    archive(fake_twitter)
    message = forbidden_message(
        fake_twitter, ARCHIVE, lambda: backfill(settings(tmp_path / "lake", fake_twitter), twitter_session)
    )
    assert "403" in message and "needs Pro or Enterprise access" in message and "--source api" in message


def test_the_backfill_command(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive(fake_twitter)
    cli_through_fake(monkeypatch, fake_twitter, twitter_session, "run_backfill")
    args = [
        "backfill",
        "--query",
        QUERY,
        "--since",
        iso(SINCE)[:10],
        "--until",
        iso(UNTIL)[:10],
        "--window-hours",
        "48",
    ]
    code = cli.main([*args, "--lake", str(tmp_path / "lake")])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out
    assert f"backfill {QUERY!r}: 5 window(s) done now (80 tweets), 0 done before, 0 left of 5" in out


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
