"""The sample source: deterministic, realistic API v2 pages at any size, in bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from foundation.lake import Lake
from foundation.settings import Settings
from ingestion.ingest import ingest
from ingestion.pages import snowflake_time
from ingestion.sources import make_source
from ingestion.sources.sample import USER_ID_BASE, SampleSource
from tests.bronze_reader import bronze

END = date(2026, 11, 20)
QUERIES = ("#dataengineering -is:retweet lang:en", "duckdb OR dbt")


def sample(**kw: Any) -> SampleSource:
    args: dict[str, Any] = {
        "tweets": 3000,
        "days": 3,
        "end_date": END,
        "queries": QUERIES,
        "accounts": ("duckdb",),
    }
    return SampleSource(**{**args, **kw})


def pages(source: SampleSource) -> list[tuple[str, str, str, dict[str, Any], bytes]]:
    return [
        (p.endpoint, p.stream, pull.ingest_date.isoformat(), p.request, p.body)
        for pull in source.pulls()
        for p in pull.pages
    ]


def quiet(_: str) -> None:
    pass


def test_same_arguments_same_bytes_and_another_seed_differs() -> None:
    first = pages(sample())
    assert first == pages(sample())
    assert [b for *_, b in first] != [b for *_, b in pages(sample(seed=7))]


def test_worker_processes_render_exactly_the_same_pages() -> None:
    args = {"tweets": 12_000, "days": 2}
    assert pages(sample(workers=2, **args)) == pages(sample(workers=0, **args))


def test_a_pull_read_partially_or_skipped_is_still_right_with_workers() -> None:
    everything = pages(sample(workers=0))
    wanted = {"duckdb OR dbt"}
    got = [
        (p.endpoint, p.stream, pull.ingest_date.isoformat(), p.request, p.body)
        for pull in sample(workers=2).pulls()
        if pull.stream in wanted
        for p in pull.pages
    ]
    assert got == [row for row in everything if row[1] in wanted]


def test_pages_look_like_the_api() -> None:
    source = sample(tweets=6000, days=4)
    tweets_by_stream: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    seen_first: dict[str, tuple[str, dict[str, Any]]] = {}
    reobserved = 0
    empty = errors = retweets = quotes = replies = 0
    for pull in source.pulls():
        previous_id = None
        for number, page in enumerate(pull.pages):
            doc = json.loads(page.body)
            data = doc.get("data") or []
            assert doc["meta"]["result_count"] == len(data) == page.tweet_count
            empty += not data
            errors += len(doc.get("errors") or [])
            assert page.error_count == len(doc.get("errors") or [])
            token_param = "next_token" if pull.endpoint == "search_recent" else "pagination_token"
            assert (token_param in page.request) == (number > 0)
            if data:
                assert page.newest_id == doc["meta"]["newest_id"] == data[0]["id"]
                users = {u["id"] for u in doc["includes"]["users"]}
                included = {t["id"] for t in doc["includes"].get("tweets", [])}
            for tweet in data:
                tid = int(tweet["id"])
                assert previous_id is None or tid < previous_id  # newest first across the whole stream-day
                previous_id = tid
                created = datetime.fromisoformat(tweet["created_at"])
                assert abs((snowflake_time(tid) - created).total_seconds()) < 0.001  # ids grow with time
                assert tweet["author_id"] in users
                ents = _check_text_and_entities(tweet, users)
                for ref in tweet.get("referenced_tweets", []):
                    kind = ref["type"]
                    retweets += kind == "retweeted"
                    quotes += kind == "quoted"
                    replies += kind == "replied_to"
                    if kind == "quoted":
                        assert ref["id"] in included
                    if kind == "retweeted":
                        assert ref["id"] in included or any(e["value"] == ref["id"] for e in doc["errors"])
                if pull.endpoint == "user_tweets":
                    assert tweet["author_id"] == str(USER_ID_BASE)  # the account is user 0
                if pull.endpoint == "user_mentions":
                    assert any(m["username"] == "duckdb" for m in ents["mentions"])
                key = f"{pull.endpoint}|{pull.stream}|{tweet['id']}"
                if key in seen_first:  # seen again on a later day: same tweet, metrics grown
                    day, earlier = seen_first[key]
                    assert day < pull.ingest_date.isoformat()
                    assert {
                        k: tweet[k] for k in ("text", "author_id", "created_at", "entities") if k in tweet
                    } == {
                        k: earlier[k] for k in ("text", "author_id", "created_at", "entities") if k in earlier
                    }
                    assert all(tweet["public_metrics"][m] >= v for m, v in earlier["public_metrics"].items())
                    reobserved += 1
                else:
                    seen_first[key] = (pull.ingest_date.isoformat(), tweet)
                tweets_by_stream[(pull.endpoint, pull.stream)].append(tweet)
    assert len(seen_first) == 6000 and reobserved == source.expected_tweets - 6000 > 0
    assert {e for e, _ in tweets_by_stream} == {"search_recent", "user_tweets", "user_mentions"}
    assert empty > 0 and errors > 0 and retweets > 0 and quotes > 0 and replies > 0
    ids = [t["id"] for ts in tweets_by_stream.values() for t in ts]
    assert len(set(ids)) == 6000  # ids are unique across streams
    missing = [t for ts in tweets_by_stream.values() for t in ts if "lang" not in t]
    assert missing, "optional fields are sometimes missing"


def _check_text_and_entities(tweet: dict[str, Any], users: set[str]) -> dict[str, Any]:
    """Text HTML-escaped as the API returns it; entity offsets in code points of that text."""
    text = tweet["text"]
    assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert "<" not in text and ">" not in text
    ents: dict[str, Any] = tweet.get("entities", {})
    for m in ents.get("mentions", []):  # code points, on the text as returned (escaped)
        assert text[m["start"] : m["end"]] == "@" + m["username"] and m["id"] in users
    for h in ents.get("hashtags", []):
        assert text[h["start"] : h["end"]] == "#" + h["tag"]
    for u in ents.get("urls", []):
        assert text[u["start"] : u["end"]] == u["url"]
    return ents


def _peak_bytes(tweets: int) -> int:
    source = sample(tweets=tweets, days=1, queries=("q",), accounts=(), users=100, workers=0)
    next(iter(sample(tweets=100, days=1).pulls())).pages.__iter__().__next__()  # warm up imports, caches
    tracemalloc.start()
    try:
        count = sum(page.tweet_count or 0 for pull in source.pulls() for page in pull.pages)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == tweets
    return peak


def test_memory_stays_bounded_while_streaming_many_tweets() -> None:
    small, large = _peak_bytes(600), _peak_bytes(3_000)
    # Pages are generated one at a time: 5x the tweets, about the same peak. Keeping the extra 2,400
    # tweets (or their pages) would add ~3 MB.
    assert large < small + 400_000, f"peak {small:,} -> {large:,} bytes: pages must not be accumulated"


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    return request.getfixturevalue("s3_bucket").lake()


def test_sample_into_bronze_is_idempotent(lake: Lake) -> None:
    settings = Settings(lake=lake.root, queries=QUERIES[:1], accounts=("duckdb",))
    source = make_source("sample", settings, tweets=1500, days=2, end_date=END, seed=None)
    first = ingest(source, lake, progress=quiet)
    assert first.tweets == source.expected_tweets and first.partial_errors > 0
    assert {r.endpoint for r in first.runs} == {"search_recent", "user_tweets", "user_mentions"}
    records = bronze(lake)
    second = ingest(make_source("sample", settings, tweets=1500, days=2, end_date=END), lake, progress=quiet)
    assert [r.objects for r in second.runs] == [r.objects for r in first.runs]
    assert [r.body for r in bronze(lake)] == [r.body for r in records]  # replaced, not added
    partitions = {r.rel.split("/ingest_date=")[1][:10] for r in records}
    assert partitions == {"2026-11-19", "2026-11-20"}


def test_the_plan_is_exact_and_checked() -> None:
    source = sample(tweets=1001, days=3)
    per_cell = [source.per_stream_day(d, s) for d in range(3) for s in range(len(source.streams))]
    assert sum(per_cell) == 1001
    assert [s.endpoint for s in source.streams] == [
        "search_recent",
        "search_recent",
        "user_tweets",
        "user_mentions",
    ]
    with pytest.raises(ValueError, match="usernames"):
        sample(accounts=("not a user!",))
    with pytest.raises(ValueError, match="page_size"):
        sample(page_size=500)
