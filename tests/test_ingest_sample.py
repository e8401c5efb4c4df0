"""The sample source: deterministic, realistic API v2 pages at any size, in bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from foundation.bronze_shapes import classify_line
from foundation.lake import Lake
from foundation.settings import Settings
from ingestion.ingest import ingest
from ingestion.pages import snowflake_time
from ingestion.sources import make_source
from ingestion.sources.sample import USER_ID_BASE, SampleSource
from ingestion.sources.sample.plan import SINGLE
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
    source = sample(tweets=6000, days=4, counts=False)  # counts pages: the next test
    tweets_by_stream: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    seen_first: dict[str, tuple[str, dict[str, Any]]] = {}
    reobserved = 0
    empty = errors = retweets = quotes = replies = 0
    for pull in source.pulls():
        previous_id = None
        if pull.endpoint in SINGLE:
            _check_single_pages(pull, tweets_by_stream, seen_first)
            continue
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
    assert {e for e, _ in tweets_by_stream} == {
        "search_recent",
        "user_tweets",
        "user_mentions",
        "search_stream",
        "tweets_lookup",
    }
    assert empty > 0 and errors > 0 and retweets > 0 and quotes > 0 and replies > 0
    ids = [t["id"] for ts in tweets_by_stream.values() for t in ts]
    assert len(set(ids)) == 6000  # ids are unique across streams
    missing = [t for ts in tweets_by_stream.values() for t in ts if "lang" not in t]
    assert missing, "optional fields are sometimes missing"


def test_counts_pages_count_the_tweets_each_query_s_search_creates_per_day() -> None:
    counted: dict[tuple[str, str], int] = {}
    created: dict[tuple[str, str], set[str]] = defaultdict(set)
    for pull in sample(tweets=6000, days=9).pulls():
        pages = [json.loads(p.body) for p in pull.pages]
        if pull.endpoint == "counts_recent":  # a page per week of the plan, a bucket per day
            assert [len(doc["data"]) for doc in pages] == [7, 2]
            counted.update(
                {(pull.stream, b["start"][:10]): b["tweet_count"] for d in pages for b in d["data"]}
            )
        elif pull.endpoint == "search_recent":
            for t in (t for doc in pages for t in doc.get("data") or []):
                created[(pull.stream, t["created_at"][:10])].add(t["id"])
    assert counted == {key: len(ids) for key, ids in created.items()} and len(counted) == 9 * 2


def _check_single_pages(
    pull: Any,
    tweets_by_stream: dict[tuple[str, str], list[dict[str, Any]]],
    seen_first: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    """A stream capture or lookups: a tweet a page (``data`` an object), never paginated; the last page,
    some days, only errors; stream messages oldest first, with the rule that matched."""
    previous = None
    pages = list(pull.pages)
    for number, page in enumerate(pages):
        doc = json.loads(page.body)
        assert (
            "meta" not in doc and "next_token" not in page.request and "pagination_token" not in page.request
        )
        if "data" not in doc:
            assert number == len(pages) - 1 and page.tweet_count == 0 and page.error_count == 1
            assert set(doc) == {"errors"}
            continue
        tweet = doc["data"]
        assert isinstance(tweet, dict) and page.tweet_count == 1 and page.newest_id == tweet["id"]
        assert tweet["author_id"] in {u["id"] for u in doc["includes"]["users"]}
        if pull.endpoint == "search_stream":
            assert doc["matching_rules"] == [{"id": doc["matching_rules"][0]["id"], "tag": pull.stream}]
            assert previous is None or int(tweet["id"]) > previous  # a stream delivers oldest first
            previous = int(tweet["id"])
        else:
            assert "matching_rules" not in doc
        seen_first[f"{pull.endpoint}|{pull.stream}|{tweet['id']}"] = (pull.ingest_date.isoformat(), tweet)
        tweets_by_stream[(pull.endpoint, pull.stream)].append(tweet)


def test_pages_carry_the_full_object_model() -> None:
    counts: dict[str, int] = defaultdict(int)
    for pull in sample(tweets=6000, days=2, counts=False).pulls():
        for page in pull.pages:
            doc = json.loads(page.body)
            data = doc.get("data") or []
            tweets = [data] if isinstance(data, dict) else data
            includes = doc.get("includes", {})
            media = {m["media_key"]: m for m in includes.get("media", [])}
            polls = {p["id"] for p in includes.get("polls", [])}
            places = {p["id"] for p in includes.get("places", [])}
            for user in includes.get("users", []):
                assert user["verified_type"] in ("none", "blue", "business", "government")
                assert isinstance(user["protected"], bool) and user["profile_image_url"].startswith(
                    "https://"
                )
                counts["pinned"] += "pinned_tweet_id" in user
                counts["user_url"] += "url" in user
            for tweet in tweets:
                _check_full_model(tweet, media, polls, places, counts)
    for feature in ("photo", "video", "animated_gif", "poll", "place", "coordinates", "edited", "long",
                    "withheld", "cashtag", "context", "annotation", "pinned", "user_url"):  # fmt: skip
        assert counts[feature] > 0, feature


def _check_full_model(
    tweet: dict[str, Any], media: dict[str, Any], polls: set[str], places: set[str], counts: dict[str, int]
) -> None:
    assert tweet["reply_settings"] in ("everyone", "following", "mentionedUsers", "subscribers", "verified")
    assert tweet["source"] and "impression_count" in tweet["public_metrics"]
    assert "bookmark_count" in tweet["public_metrics"]
    text, ents = tweet["text"], tweet.get("entities", {})
    for key in tweet.get("attachments", {}).get("media_keys", []):
        kind = media[key]["type"]
        counts[kind] += 1
        if kind in ("video", "animated_gif"):
            assert media[key]["variants"] and all(
                v["url"].startswith("https://") for v in media[key]["variants"]
            )
        if kind == "video":
            assert media[key]["duration_ms"] > 0
    for pid in tweet.get("attachments", {}).get("poll_ids", []):
        assert pid in polls
        counts["poll"] += 1
    if "geo" in tweet:
        assert tweet["geo"]["place_id"] in places
        counts["place"] += 1
        counts["coordinates"] += "coordinates" in tweet["geo"]
    history = tweet["edit_history_tweet_ids"]
    assert history[-1] == tweet["id"] and history == sorted(history, key=int)
    if len(history) > 1:
        counts["edited"] += 1
        assert tweet["edit_controls"]["edits_remaining"] == 6 - len(history)
    if "note_tweet" in tweet:
        counts["long"] += 1
        note = tweet["note_tweet"]["text"]  # the full text; the tweet's own ends with a link, as on the API
        assert len(note) > 280 and note.startswith(text.split(" https://t.co/")[0])
    counts["withheld"] += "withheld" in tweet
    counts["context"] += bool(tweet.get("context_annotations"))
    for c in ents.get("cashtags", []):
        assert text[c["start"] : c["end"]] == "$" + c["tag"]
        counts["cashtag"] += 1
    for a in ents.get("annotations", []):  # annotation ends are inclusive
        assert text[a["start"] : a["end"] + 1] == a["normalized_text"] and 0 < a["probability"] < 1
        counts["annotation"] += 1


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
    assert {r.endpoint for r in first.runs} == {
        "search_recent",
        "user_tweets",
        "user_mentions",
        "search_stream",
        "tweets_lookup",
        "counts_recent",  # what the counts endpoint says of the query (silver.tweet_counts)
    }
    records = bronze(lake)
    # by default every shape the API sends (twarc's flattened lines are the replay fixtures'), as the build
    # classifies the bronze lines: `make demo`, the dbt tests and the benchmarks read them all
    files = {r.rel for r in records}
    written = {classify_line(raw).shape for rel in files for raw in lake.read_bytes(rel).splitlines()}
    assert written == {"page", "single", "errors", "empty"}
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
        "search_stream",
        "tweets_lookup",
    ]
    assert [s.endpoint for s in sample(single_shapes=False).streams] == [
        "search_recent",
        "search_recent",
        "user_tweets",
        "user_mentions",
    ]
    with pytest.raises(ValueError, match="usernames"):
        sample(accounts=("not a user!",))
    with pytest.raises(ValueError, match="page_size"):
        sample(page_size=500)


def test_a_volume_drill_cuts_only_the_first_querys_last_day() -> None:
    plain, drill = sample(tweets=3000, days=5), sample(tweets=3000, days=5, drill_drop=0.8)
    cells = [(d, s) for d in range(5) for s in range(len(plain.streams))]
    changed = {c for c in cells if plain.per_stream_day(*c) != drill.per_stream_day(*c)}
    assert changed == {(4, 0)}
    assert drill.per_stream_day(4, 0) == round(plain.per_stream_day(4, 0) * 0.2)
    assert drill.streams[0].endpoint == "search_recent"
    with pytest.raises(ValueError, match="drill_drop"):
        sample(drill_drop=1.0)
