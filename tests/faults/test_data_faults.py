"""Fault: the data itself changes under the lake: schema drift in bronze, the same page landed twice,
pages stamped by a clock that runs ahead.

The pages are the X API v2 documentation's search example (tests/data/real/search_recent.json; its
source and licence are in tests/data/real/README.md), changed the way real payloads drift: a field the
lake does not know (at the top, in a tweet, in an object), a count sent as a string, an id sent as a
number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from expectations.results import QualityGateFailed
from foundation.lake import Lake
from foundation.settings import Settings
from pipeline.steps import run_build, run_validate
from tests.fixtures_lake import query

pytestmark = pytest.mark.slow

REAL = Path(__file__).parents[1] / "data" / "real" / "search_recent.json"
DAY = "2020-05-21"


def bronze_line(response: dict[str, Any], n: int, fetched_at: str, raw: bytes | None = None) -> bytes:
    env = {
        "source": "replay",
        "endpoint": "search_recent",
        "stream": "drift",
        "fetched_at": fetched_at,
        "page_number": n,
        "run_id": f"run-{n}",
        "run_key": "drift",
    }
    body = raw if raw is not None else json.dumps(response).encode()
    return b'{"envelope":' + json.dumps(env).encode() + b',"response":' + body + b"}\n"


def write(lake: Lake, name: str, data: bytes, day: str = DAY) -> None:
    lake.write_bytes(
        f"bronze/source=replay/endpoint=search_recent/stream=drift/ingest_date={day}/{name}.jsonl", data
    )


def silver(settings: Settings, sql: str) -> list[tuple]:
    lake = Lake.from_settings(settings)
    tweets = f"read_parquet('{lake.url('_staging/silver', 'tweets')}/*/*.parquet')"
    return query(settings, sql.replace("{tweets}", tweets))


def drifted() -> tuple[bytes, dict[str, int]]:
    """The documentation's page, drifted; and each tweet's like count as the API meant it."""
    doc = json.loads(REAL.read_bytes())
    likes = {t["id"]: t["public_metrics"]["like_count"] for t in doc["data"]}
    doc["meta"]["newest_unknown_field"] = {"nested": [1, 2]}  # new at the top
    first, second, third = doc["data"][0], doc["data"][1], doc["data"][2]
    first["community_note"] = {"text": "a field X added later"}  # new in a tweet
    first["public_metrics"]["like_count"] = str(first["public_metrics"]["like_count"])  # a count as a string
    second["public_metrics"]["reaction_count"] = 7  # new inside an object the lake reads
    raw = json.dumps(doc)
    # an id and an author id sent as JSON numbers (an old client, a proxy that re-serialised the body)
    raw = raw.replace(f'"id": "{third["id"]}"', f'"id": {third["id"]}', 1)
    raw = raw.replace(f'"author_id": "{third["author_id"]}"', f'"author_id": {third["author_id"]}', 1)
    return raw.encode(), likes


def test_schema_drift_loses_no_tweet_and_keeps_values_typed(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    raw, likes = drifted()
    write(lake, "drifted", bronze_line({}, 1, "2020-05-21T00:00:00.000Z", raw=raw))
    run_build(local_settings)
    rows = silver(local_settings, "select tweet_id, author_id, like_count from {tweets} order by 1")
    assert {r[0] for r in rows} == set(likes)  # every tweet once, the numeric id read as its digits
    assert {r[0]: r[2] for r in rows} == likes  # the count sent as a string is the same integer
    assert all(isinstance(r[2], int) and r[1].isdigit() for r in rows)
    report = run_validate(local_settings, as_of="2020-05-21T00:00:00Z")
    assert report.success, report.describe()


def test_the_same_page_landed_twice_is_one_tweet_each(local_settings: Settings) -> None:
    """Two runs landed the same answer (a replay of an archive twice, an overlap of two windows)."""
    lake = Lake.from_settings(local_settings)
    body = json.dumps(json.loads(REAL.read_bytes())).encode()
    ids = [t["id"] for t in json.loads(body)["data"]]
    write(lake, "first", bronze_line({}, 1, "2020-05-21T00:00:00.000Z", raw=body))
    write(lake, "again", bronze_line({}, 1, "2020-05-21T00:00:00.000Z", raw=body), day="2020-05-22")
    run_build(local_settings)
    rows = silver(local_settings, "select tweet_id from {tweets}")
    assert sorted(r[0] for r in rows) == sorted(ids)
    report = run_validate(local_settings, as_of="2020-05-22T00:00:00Z")
    assert report.success, report.describe()


def test_a_page_stamped_in_the_future_loses_nothing_and_the_gate_names_the_clock(
    local_settings: Settings,
) -> None:
    """An ingest machine whose clock ran two days ahead stamped a page; a later page is stamped right.
    Every tweet stays once; the gate does not take the future stamp as its reference time (freshness would
    be judged by the wrong clock): it judges by this machine's, and says which file and what to check."""
    lake = Lake.from_settings(local_settings)
    doc = json.loads(REAL.read_bytes())
    now = datetime.now(UTC)
    day = now.date().isoformat()
    ahead = (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    write(lake, "ahead", bronze_line(doc, 1, ahead), day=day)
    write(lake, "right", bronze_line(doc, 2, now.strftime("%Y-%m-%dT%H:%M:%S.000Z")), day=day)
    run_build(local_settings)
    rows = silver(local_settings, "select tweet_id from {tweets}")
    assert sorted(r[0] for r in rows) == sorted(t["id"] for t in doc["data"])
    try:  # the documentation's tweets are from 2020: freshness is not what this checks
        report = run_validate(local_settings, max_age_hours=10**6)
    except QualityGateFailed as failed:
        assert failed.report is not None
        report = failed.report
    assert abs(datetime.fromisoformat(report.as_of.replace("Z", "+00:00")) - now) < timedelta(minutes=5)
    assert "ahead.jsonl has fetched_at" in report.as_of_source, report.as_of_source
    assert "48.0 h ahead of this machine's clock" in report.as_of_source or "47.9 h" in report.as_of_source
    assert "check its time sync" in report.describe()
