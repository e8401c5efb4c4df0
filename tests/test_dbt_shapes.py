"""Every shape of bronze line lands in silver, through a real build: pages, single-tweet messages, twarc2
flatten lines, errors-only and empty messages, in files of one shape (read in place) and a file mixing them
(split by read); a truncated file is read up to its cut line, which is set aside in silver.rejected_pages
and named by the build, and a re-ingest of the window heals it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foundation.lake import Lake
from foundation.settings import Settings
from pipeline.steps import run_build, run_validate
from tests.bronze_reader import response_expansions, response_tweets
from tests.bronze_shapes_data import empty, errors_only, flattened, line, mixed_file, page, single
from tests.fixtures_lake import query

pytestmark = pytest.mark.slow
DAY = "2026-11-20"


def write(lake: Lake, name: str, data: bytes) -> str:
    rel = f"bronze/source=replay/endpoint=search_recent/stream=shapes/ingest_date={DAY}/{name}.jsonl"
    lake.write_bytes(rel, data)
    return rel


def silver(settings: Settings, table: str, columns: str, glob: str = "*/*.parquet") -> list[tuple]:
    lake = Lake.from_settings(settings)
    return query(
        settings,
        f"select {columns} from read_parquet('{lake.url('_staging/silver', table)}/{glob}') order by 1",
    )


CUT_GOOD = line(page(["51", "52"]), 1) + line(single("53"), 2)
CUT_LAST = line(page(["54"]), 3)


@pytest.fixture
def shapes_lake(local_settings: Settings) -> tuple[Settings, str, set[str]]:
    """A lake of every shape plus a file cut in its last line; the cut file and the readable tweet ids."""
    lake = Lake.from_settings(local_settings)
    mixed, ids = mixed_file("1")
    flat = line(flattened("41", "42"), 1) + line(flattened("43", "41", quoted_author="u3"), 2)
    write(lake, "mixed", mixed)
    write(lake, "pages", line(page(["21", "22"]), 1) + line(empty(), 2))
    write(lake, "stream", line(single("31"), 1) + b"\n" + line(single("32"), 2) + line(errors_only(), 3))
    write(lake, "flat", flat)
    cut = write(lake, "cut", CUT_GOOD + CUT_LAST[:-25])
    # the flattened tweets' inlined references are tweets too (42: only ever seen as 41's quoted tweet)
    assert lines_ids(flat) == {"41", "42", "43"}
    return (
        local_settings,
        cut,
        ids | lines_ids(mixed) | {"21", "22", "31", "32", "41", "42", "43", "51", "52", "53"},
    )


def test_every_shape_lands_once_and_a_cut_line_is_set_aside_then_healed(
    shapes_lake: tuple[Settings, str, set[str]],
) -> None:
    settings, cut, ids = shapes_lake
    summary = run_build(settings)
    tweets = [r[0] for r in silver(settings, "tweets", "tweet_id")]
    assert sorted(tweets) == sorted(ids)  # every tweet of every readable line, exactly once

    rejected = silver(
        settings, "rejected_pages", "bronze_file, line, byte_offset, shape_guess, reason, head", "*.parquet"
    )
    assert [r[:4] for r in rejected] == [(cut, 3, len(CUT_GOOD), "page")]
    assert "truncated JSON" in rejected[0][4] and rejected[0][5] == CUT_LAST[:200].decode()
    [warning] = summary.rejections
    assert f"{cut}:3" in warning and "Re-ingest that window" in warning

    # the expansions of a flattened tweet: its author (username found) and the quoted tweet's author
    authors = dict(silver(settings, "tweets", "tweet_id, author_username"))
    assert authors["41"] == "nameu3" and authors["31"] == "nameu2" and authors["21"] == "nameu1"
    users = {r[0] for r in silver(settings, "users", "user_id", "*.parquet")}
    assert {"u1", "u2", "u3", "u4"} <= users
    refs = silver(
        settings, "referenced_tweets", "tweet_id, referenced_tweet_id, is_available, referenced_text"
    )
    assert ("41", "42", True, "the quoted one") in refs
    errors = silver(settings, "api_errors", "resource_id, value", "*.parquet")
    assert errors == [("7", "7"), ("7", "7")]  # the errors-only message of the mixed file and the stream's

    # a re-ingest of the window replaces the file: the next build reads it, the rejection is gone
    lake = Lake.from_settings(settings)
    lake.remove([cut])
    write(lake, "cut-rerun", CUT_GOOD + CUT_LAST)
    healed = run_build(settings)
    assert healed.rejections == []
    assert silver(settings, "rejected_pages", "bronze_file", "*.parquet") == []
    assert sorted(r[0] for r in silver(settings, "tweets", "tweet_id")) == sorted(ids | {"54"})


def test_the_gate_counts_readable_pages_and_judges_the_rejected_share(
    shapes_lake: tuple[Settings, str, set[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, cut, _ = shapes_lake
    run_build(settings)
    # 1 line of 15 set aside: above the 1% a replay may lose, so the gate fails on it ...
    report = run_validate(settings, gate=False, layers=("silver",))
    failed = [f for f in report.failures if f.suite == "silver.rejected_pages"]
    assert not report.success and len(failed) == 1 and failed[0].unexpected_count == 1
    assert "source=replay: 1 of 15 bronze lines set aside" in report.describe()
    # ... and passes with a share the user allows, still listing them; silver holds every readable tweet
    monkeypatch.setenv("TWEETLAKE_MAX_REJECTED_SHARE", "0.1")
    report = run_validate(settings, gate=False, layers=("silver",))
    assert report.success, report.describe()
    assert report.rejected and "1 of 15" in report.rejected[0]


REAL = Path(__file__).parent / "data" / "real"


def real_responses() -> list[tuple[str, bytes]]:
    """(fixture file, response body) for every message of tests/data/real: a .json file is one response
    (compacted as ingestion compacts it), a .jsonl file one response a line (blank keep-alives skipped);
    the cut last line of truncated.jsonl is kept as it is."""
    out = []
    for path in sorted(REAL.glob("*.json*")):
        raw = path.read_bytes()
        if path.suffix == ".json":
            out.append((path.name, json.dumps(json.loads(raw), ensure_ascii=False).encode()))
            continue
        out.extend((path.name, ln.strip()) for ln in raw.split(b"\n") if ln.strip())
    return out


def held_ids(body: bytes) -> set[str]:
    """The tweets a response holds: its own (data, or a flattened line itself) and its expansions
    (includes.tweets, or a flattened line's inlined references), which are observations too."""
    doc = json.loads(body)
    return {t["id"] for t in response_tweets(doc) + response_expansions(doc)}


def lines_ids(data: bytes) -> set[str]:
    """held_ids of every readable line of a bronze file ({envelope, response} lines)."""
    ids: set[str] = set()
    for raw in data.splitlines():
        try:
            if raw.strip():
                ids |= held_ids(json.dumps(json.loads(raw)["response"]).encode())
        except json.JSONDecodeError:
            pass  # a cut line: nothing of it reaches silver
    return ids


@pytest.mark.skipif(not REAL.exists(), reason="the real-payload fixtures are not in this checkout")
def test_real_payloads_of_every_shape_land_once_and_the_cut_line_is_named(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    expected: set[str] = set()
    files: dict[str, bytes] = {}
    for n, (name, body) in enumerate(real_responses(), 1):
        files[name] = files.get(name, b"") + line(None, n, raw=body)
        try:
            expected |= held_ids(body)
        except json.JSONDecodeError:
            assert name == "truncated.jsonl"  # its cut line: nothing of it may reach silver
    for name, data in files.items():
        write(lake, name.split(".")[0].replace("_", "-"), data)
    summary = run_build(local_settings)
    tweets = [r[0] for r in silver(local_settings, "tweets", "tweet_id")]
    assert len(tweets) == len(set(tweets)) and set(tweets) == expected
    rejected = silver(local_settings, "rejected_pages", "bronze_file, line, shape_guess", "*.parquet")
    assert [(r[0].rsplit("/", 1)[1], r[1], r[2]) for r in rejected] == [("truncated.jsonl", 2, "page")]
    assert len(summary.rejections) == 1 and "truncated.jsonl:2" in summary.rejections[0]
    # a flattened Post's author is its inlined `author`
    authors = dict(silver(local_settings, "tweets", "tweet_id, author_username"))
    flat = [json.loads(ln) for ln in (REAL / "twarc2_flatten.jsonl").read_bytes().splitlines() if ln.strip()]
    assert all(authors[t["id"]] == t["author"]["username"] for t in flat)


def _real_objects() -> dict[str, list[dict[str, Any]]]:
    """Every object of the real fixtures by kind, as the API (or twarc2 flatten) sent it: tweets (of data,
    includes.tweets and flatten's inlined references), users, media, polls, places."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("tweets", "users", "media", "polls", "places")}
    for _, body in real_responses():
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            continue
        includes = doc.get("includes") or {}
        data = doc.get("data")
        tweets = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        if data is None and "id" in doc and "text" in doc:  # flattened: expansions inlined
            tweets = [doc, *[t for t in doc.get("referenced_tweets") or [] if "text" in t]]
            out["users"] += [t["author"] for t in tweets if "author" in t]
            out["media"] += (doc.get("attachments") or {}).get("media") or []
            out["polls"] += [p for p in [(doc.get("attachments") or {}).get("poll")] if p]
            out["places"] += [g for g in [doc.get("geo")] if g and "full_name" in g]
        out["tweets"] += tweets + (includes.get("tweets") or [])
        for kind in ("users", "media", "polls", "places"):
            out[kind] += includes.get(kind) or []
    return out


def _candidates(objects: list[dict[str, Any]], key: str, value: Any) -> dict[str, list[Any]]:
    """Per object id, every value an observation of it gave (silver keeps one of them: the winner's)."""
    out: dict[str, list[Any]] = {}
    for o in objects:
        out.setdefault(str(o[key]), []).append(value(o))
    return out


def _check(rows: list[tuple], expected: dict[str, list[Any]], what: str) -> None:
    got = {str(r[0]): (r[1:] if len(r) > 2 else r[1]) for r in rows}
    assert set(expected) <= set(got), f"{what}: missing {set(expected) - set(got)}"
    for key, values in expected.items():
        assert got[key] in values, f"{what} of {key}: {got[key]!r} not among {values!r}"


@pytest.mark.skipif(not REAL.exists(), reason="the real-payload fixtures are not in this checkout")
def test_real_payloads_reach_the_full_object_model(local_settings: Settings) -> None:
    """Every field of the object model, checked against the real fixtures' own values (each silver value is
    one of the values the observations of that object sent)."""
    import html

    lake = Lake.from_settings(local_settings)
    files: dict[str, bytes] = {}
    for n, (name, body) in enumerate(real_responses(), 1):
        files[name] = files.get(name, b"") + line(None, n, raw=body)
    for name, data in files.items():
        write(lake, name.split(".")[0].replace("_", "-"), data)
    run_build(local_settings)
    real = _real_objects()
    s = lambda table, cols, glob="*.parquet": silver(local_settings, table, cols, glob)  # noqa: E731
    parted = "*/*.parquet"

    media = _candidates(
        real["media"],
        "media_key",
        lambda m: (
            m["type"], m.get("width"), m.get("height"), m.get("duration_ms"),
            (m.get("public_metrics") or {}).get("view_count"), m.get("alt_text"),
            len(m.get("variants") or []),
        ),
    )  # fmt: skip
    assert {v[0][0] for v in media.values()} == {"photo", "video", "animated_gif"}
    _check(
        s(
            "media",
            "media_key, media_type, width, height, duration_ms, view_count, alt_text, "
            "coalesce(len(variants), 0)",
        ),
        media,
        "media",
    )
    polls = _candidates(
        real["polls"],
        "id",
        lambda p: (
            len(p["options"]),
            sum(o["votes"] for o in p["options"]),
            p["voting_status"],
            p["duration_minutes"],
        ),
    )
    assert polls
    _check(s("polls", "poll_id, option_count, total_votes, voting_status, duration_minutes"), polls, "polls")
    places = _candidates(
        real["places"],
        "id",
        lambda p: (p["full_name"], p["country_code"], p["place_type"], p["geo"]["bbox"]),
    )
    assert places
    _check(s("places", "place_id, full_name, country_code, place_type, bbox"), places, "places")

    tweets = real["tweets"]
    att = [t for t in tweets if (t.get("attachments") or {}).get("media_keys")]
    assert att and any((t.get("attachments") or {}).get("poll_ids") for t in tweets)
    for table, field in (("tweet_media", "media_keys"), ("tweet_polls", "poll_ids")):
        key = "media_key, position" if table == "tweet_media" else "poll_id, 1"
        attached: dict[str, list[str]] = {t["id"]: [] for t in tweets}
        for r in sorted(s(table, f"tweet_id, {key}", parted)):
            attached[r[0]].append(r[1])
        want = _candidates(tweets, "id", lambda t, f=field: list((t.get("attachments") or {}).get(f) or []))
        _check(list(attached.items()), want, table)

    columns = (
        "tweet_id, text, text_truncated, edit_history_tweet_ids, reply_settings, client_app, "
        "withheld_country_codes, "
        "place_id, longitude, latitude, impression_count, bookmark_count"
    )

    def expected(t: dict[str, Any]) -> tuple:
        note = (t.get("note_tweet") or {}).get("text")
        point = ((t.get("geo") or {}).get("coordinates") or {}).get("coordinates") or [None, None]
        metrics = t.get("public_metrics") or {}
        return (
            html.unescape(note or t["text"]), html.unescape(t["text"]) if note else None,
            t.get("edit_history_tweet_ids"), t.get("reply_settings"), t.get("source"),
            (t.get("withheld") or {}).get("country_codes"), (t.get("geo") or {}).get("place_id"),
            point[0], point[1], metrics.get("impression_count"), metrics.get("bookmark_count"),
        )  # fmt: skip

    _check(s("tweets", columns, parted), _candidates(tweets, "id", expected), "tweets")
    long_posts = [t for t in tweets if t.get("note_tweet")]
    assert (
        long_posts
        and any(t.get("withheld") for t in tweets)
        and any(t.get("geo", {}).get("coordinates") for t in tweets)
    )

    def entity_rows(t: dict[str, Any], kind: str) -> list[Any]:
        entities = (
            ((t.get("note_tweet") or {}).get("entities") or t.get("entities") or {})
            if kind == "cashtags"
            else (t.get("entities") or {})
        )
        return sorted(
            e["tag"].upper() if kind == "cashtags" else (e["type"], e["normalized_text"])
            for e in entities.get(kind) or []
        )

    cashtags: dict[str, list[Any]] = {}
    for r in s("cashtags", "tweet_id, tag", parted):
        cashtags.setdefault(r[0], []).append(r[1])
    expected_cash = {t["id"]: entity_rows(t, "cashtags") for t in tweets if entity_rows(t, "cashtags")}
    assert expected_cash and all(sorted(cashtags.get(k, [])) == v for k, v in expected_cash.items())
    annotations: dict[str, list[Any]] = {}
    for r in s("annotations", "tweet_id, annotation_type, normalized_text", parted):
        annotations.setdefault(r[0], []).append((r[1], r[2]))
    expected_ann = {t["id"]: entity_rows(t, "annotations") for t in tweets if entity_rows(t, "annotations")}
    assert expected_ann and all(sorted(annotations.get(k, [])) == v for k, v in expected_ann.items())
    contexts: dict[str, set[tuple]] = {}
    for r in s("context_annotations", "tweet_id, domain_id, entity_id", parted):
        contexts.setdefault(r[0], set()).add((r[1], r[2]))
    with_context = [t for t in tweets if t.get("context_annotations")]
    assert with_context and all(
        {(c["domain"]["id"], c["entity"]["id"]) for c in t["context_annotations"]} == contexts[t["id"]]
        for t in with_context
    )

    # an edited post: its earlier versions are superseded by the latest (silver.tweet_edits)
    edits = {r[0]: r[1:] for r in s("tweet_edits", "tweet_id, latest_tweet_id, is_latest")}
    edited = [t for t in tweets if len(t.get("edit_history_tweet_ids") or []) > 1]
    assert edited
    for t in edited:
        history = t["edit_history_tweet_ids"]
        assert edits[history[0]] == (history[-1], False) and edits[history[-1]] == (history[-1], True)

    users = _candidates(
        real["users"],
        "id",
        lambda u: (
            u.get("verified_type"), u.get("protected"),
            ((u.get("entities") or {}).get("url") or {}).get("urls", [{}])[0].get("expanded_url")
            or u.get("url"),
            u.get("profile_image_url"), u.get("pinned_tweet_id"),
        ),
    )  # fmt: skip
    _check(
        s("users", "user_id, verified_type, protected, url, profile_image_url, pinned_tweet_id"),
        users,
        "users",
    )

    # tweets only ever seen as an expansion are observations too, marked so; a retweet's whole text is
    # its original's
    seen = dict(s("tweets", "tweet_id, seen_in", parted))
    collected = {t["id"] for _, body in real_responses() for t in _own_tweets(body)}
    assert {k for k, v in seen.items() if v == "data"} == collected and set(seen) - collected
    referenced = {
        (r[0], r[1]): r[2]
        for r in s("referenced_tweets", "tweet_id, referenced_tweet_id, referenced_text", parted)
    }
    originals = dict(s("tweets", "tweet_id, text", parted))
    rt = [
        (t["id"], r["id"])
        for t in tweets
        for r in t.get("referenced_tweets") or []
        if r["type"] == "retweeted"
    ]
    assert rt and all(originals[o] and referenced[(t, o)] == originals[o] for t, o in rt)

    # gold: top tweets carry their media type; cashtags trend apart from hashtags; media per day and stream
    gold = lambda table, cols: query(  # noqa: E731
        local_settings,
        f"select {cols} from read_parquet('{lake.url('_staging', 'gold', table + '.parquet')}')",
    )
    top = dict(gold("top_tweets", "tweet_id, media_type"))
    video = next(t["id"] for t in att if media[t["attachments"]["media_keys"][0]][0][0] == "video")
    assert top[video] == "video"
    kinds = {r[0] for r in gold("hashtag_trends_daily", "distinct kind")}
    assert kinds == {"hashtag", "cashtag"}
    media_daily = {r[0] for r in gold("media_daily", "distinct media_type")}
    assert {"video", "none"} <= media_daily


def _own_tweets(body: bytes) -> list[dict[str, Any]]:
    """A response's own tweets (data, or a flattened line itself), not its expansions."""
    try:
        return response_tweets(json.loads(body))
    except json.JSONDecodeError:
        return []
