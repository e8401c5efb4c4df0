"""``tweetlake counts``: the counts endpoints through tweepy over real HTTP to the fake API v2 server, landed
in bronze (endpoint=counts_recent, counts_all), built into silver.tweet_counts by real dbt, and reconciled
with the tweets ingested by the counts_gap monitor (real Great Expectations run); full-archive counts
paginated, refused clearly without full-archive access, and a 429 waited out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import Secret, Settings
from ingestion.counts import NO_ARCHIVE_ACCESS
from pipeline import cli, steps
from tests.fake_twitter.fixtures import cli_through_fake, forbidden_message
from tests.fake_twitter.server import FakeTwitter, make_tweets

QUERY = "#duckdb lang:en"
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.replace(hour=0, minute=0, second=0)
SINCE, UNTIL = TODAY - timedelta(days=5), TODAY  # five whole days, within recent search's 7


def settings_for(lake: Path, fake: FakeTwitter) -> Settings:
    return Settings(lake=str(lake), queries=(QUERY,), accounts=(), bearer_token=Secret(fake.token))


def no_wait(seconds: float) -> None:
    raise AssertionError(f"no wait expected here ({seconds} s)")


def count_pages(lake: Lake, endpoint: str) -> list[dict[str, Any]]:
    rels = sorted(lake.glob(f"bronze/source=api/endpoint={endpoint}/*/*/*.jsonl"))
    return [json.loads(line) for rel in rels for line in lake.read_bytes(rel).splitlines()]


def tweet_counts(settings: Settings) -> dict[str, int]:
    from tests.fixtures_lake import query

    rows = query(
        settings,
        "select window_start, tweet_count from "
        f"read_parquet('{settings.lake}/_staging/silver/tweet_counts/*.parquet') order by 1",
    )
    return {f"{start:%Y-%m-%d}": n for start, n in rows}


def per_day(tweets: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tweets:
        at = datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        if start <= at < end:
            out[f"{at:%Y-%m-%d}"] = out.get(f"{at:%Y-%m-%d}", 0) + 1
    return out


def test_counts_land_raw_build_tweet_counts_and_reconcile_with_the_ingest(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERY] = make_tweets(6 * 12, NOW - timedelta(minutes=20), step=timedelta(hours=2))
    settings = settings_for(tmp_path / "lake", fake_twitter)
    lake = Lake(settings.lake)
    api = {"session": twitter_session, "sleep": no_wait}
    steps.run_ingest(settings, "api", start_time=SINCE, end_time=UNTIL, **api)
    summary = steps.run_counts(settings, SINCE, UNTIL, **api)

    [sent] = fake_twitter.sent("/2/tweets/counts/recent")
    assert sent.params["granularity"] == "day" and sent.params["query"] == QUERY
    assert summary.tweets == 0 and summary.pages == 1  # counts are numbers, not posts
    [page] = count_pages(lake, "counts_recent")
    assert page["envelope"]["endpoint"] == "counts_recent" and page["envelope"]["request"]["query"] == QUERY
    expected = per_day(fake_twitter.search[QUERY], SINCE, UNTIL)
    assert {b["start"][:10]: b["tweet_count"] for b in page["response"]["data"]} == expected  # as sent

    steps.run_build(settings)
    assert tweet_counts(settings) == expected and len(expected) == 5
    report = steps.run_validate(settings, gate=False, as_of=NOW.isoformat())
    [gap] = [m for m in report.monitors if m["name"] == "counts_gap"]
    assert (gap["key"], gap["status"], gap["value"], len(gap["baseline"])) == (QUERY, "ok", 0.0, 5), gap

    # the API now counts posts the ingest never got (late arrivals): counting again replaces the window's
    # page, the latest fetch wins in silver, and the monitor names the day short
    late_day = SINCE + timedelta(days=2)
    fake_twitter.search[QUERY] += make_tweets(4, late_day + timedelta(hours=13), seq=500)
    steps.run_counts(settings, SINCE, UNTIL, **api)
    assert len(count_pages(lake, "counts_recent")) == 1
    steps.run_build(settings)
    counted = tweet_counts(settings)
    assert counted[f"{late_day:%Y-%m-%d}"] == expected[f"{late_day:%Y-%m-%d}"] + 4
    report = steps.run_validate(settings, gate=False, as_of=NOW.isoformat())
    [gap] = [m for m in report.monitors if m["name"] == "counts_gap"]
    collected = expected[f"{late_day:%Y-%m-%d}"]
    assert gap["status"] == "warning", gap
    assert f"{late_day:%Y-%m-%d} 00:00" in gap["message"]
    assert f"{collected:,} tweets collected of the {collected + 4:,}" in gap["message"]


def test_full_archive_counts_follow_next_token_31_days_a_page(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERY] = make_tweets(90 * 4, NOW - timedelta(minutes=20), step=timedelta(hours=6))
    settings = settings_for(tmp_path / "lake", fake_twitter)
    since, until = TODAY - timedelta(days=80), TODAY - timedelta(days=40)  # older than recent counts reach
    summary = steps.run_counts(settings, since, until, archive=True, session=twitter_session, sleep=no_wait)

    sent = fake_twitter.sent("/2/tweets/counts/all")
    assert [r.params.get("next_token") is None for r in sent] == [True, False]
    pages = count_pages(Lake(settings.lake), "counts_all")
    assert summary.pages == 2 and [len(p["response"]["data"]) for p in pages] == [31, 9]
    buckets = {b["start"][:10]: b["tweet_count"] for p in pages for b in p["response"]["data"]}
    assert buckets == per_day(fake_twitter.search[QUERY], since, until)


def test_full_archive_counts_without_access_say_what_to_do(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "lake", fake_twitter)
    since, until = TODAY - timedelta(days=60), TODAY - timedelta(days=50)
    message = forbidden_message(
        fake_twitter,
        "/2/tweets/counts/all",
        lambda: steps.run_counts(settings, since, until, archive=True, session=twitter_session),
    )
    assert "403" in message and "counts_all" in message and NO_ARCHIVE_ACCESS in message
    assert not Lake(settings.lake).glob("_state/runs/**/*.json")  # nothing committed


def test_a_429_on_counts_is_waited_out(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERY] = make_tweets(30, NOW - timedelta(minutes=20), step=timedelta(hours=3))
    settings = settings_for(tmp_path / "lake", fake_twitter)
    fake_twitter.fail(429, path="/2/tweets/counts/recent", headers=fake_twitter.rate_limit_reset(20))
    sleeps: list[float] = []
    summary = steps.run_counts(settings, SINCE, UNTIL, session=twitter_session, sleep=sleeps.append)
    assert summary.rate_limit_waits == 1 and 15 <= max(sleeps) <= 30
    assert len(fake_twitter.sent("/2/tweets/counts/recent")) == 2 and summary.pages == 1


def test_the_counts_command_lands_the_configured_queries(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_twitter.search[QUERY] = make_tweets(30, NOW - timedelta(minutes=20), step=timedelta(hours=3))
    cli_through_fake(monkeypatch, fake_twitter, twitter_session, "run_counts")
    at = "%Y-%m-%dT%H:%M:%SZ"
    args = ["--since", SINCE.strftime(at), "--until", UNTIL.strftime(at), "--lake", str(tmp_path / "lake")]
    code = cli.main(["counts", "--query", QUERY, "--granularity", "hour", *args])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out
    assert "counted 1 query(ies) in 1 page(s)" in out and fake_twitter.token not in out
    [sent] = fake_twitter.sent("/2/tweets/counts/recent")
    assert sent.params["granularity"] == "hour"
    [page] = count_pages(Lake(str(tmp_path / "lake")), "counts_recent")
    assert len(page["response"]["data"]) == 5 * 24

    code = cli.main(["counts", "--query", QUERY, "--granularity", "week", *args])
    assert code == 2  # click refuses the granularity before any request
    assert len(fake_twitter.sent("/2/tweets/counts/recent")) == 1
