"""The lake report's API spend (pipeline.lake_report.spend_section): posts read per day and pull from the
spend ledger, their cost at TWEETLAKE_PRICE_PER_POST, and the API's own daily count (GET /2/usage/tweets,
recorded beside the ledger) as a line. A hand-made ledger; the page opened in headless Chromium, offline,
must draw as many marks as the ledger and the usage records imply, counted here from their files."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.layout import REPORT_INDEX, SPEND
from ingestion import spend, usage
from pipeline.lake_report import SPEND_ID, write_lake_report
from tests.test_lake_report import dom_in_chromium, drawn_charts, specs
from tests.test_quality_report import CHROMIUM, external_refs

END = date(2026, 11, 20)
STREAMS = (("search_recent", "#duckdb"), ("search_recent", "dbt"), ("user_tweets", "duckdb"))


def ledger_lake(root: Path) -> Lake:
    """Five days of pulls (a stream skipped some days, day 2 two runs, one of them failed), a sample pull
    (not billed) and two usage records (the later one's days winning)."""
    lake = Lake(str(root / "lake"))
    for d in range(5):
        day = (END - timedelta(days=4 - d)).isoformat()
        for s, (endpoint, stream) in enumerate(STREAMS):
            if (d + s) % 4 == 3:
                continue
            for run in range(1 + (d == 2)):
                posts = 100 * (d + 1) + s
                entry = spend.Spend(
                    f"r{d}{run}", "api", endpoint, stream, day, 2, posts, f"{day}T1{run}:00:00Z", run == 0
                )
                spend.record(lake, entry)
    spend.record(lake, spend.Spend("s1", "sample", "search_recent", "x", END.isoformat(), 9, 9999, "", True))
    for fetched, days in (("2026-11-19", 3), ("2026-11-20", 4)):
        start = date.fromisoformat(fetched)
        daily = [
            {"date": f"{start - timedelta(days=i)}T00:00:00.000Z", "usage": str(1000 + i + days)}
            for i in range(days)
        ]
        record = usage.Usage(f"{fetched}T12:00:00.000Z", True, data={"daily_project_usage": {"usage": daily}})
        usage.record(lake, record)
    return lake


def expected(lake: Lake) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Posts per (day, pull) of the billed records, and the API's count per day (the latest record's), read
    from the files themselves."""
    posts: dict[tuple[str, str], int] = {}
    for rel in lake.glob(f"{SPEND}/month=*/*.json"):
        doc = json.loads(lake.read_bytes(rel))
        if doc["source"] == "api":
            key = (doc["day"], f"{doc['endpoint']} {doc['stream']}")
            posts[key] = posts.get(key, 0) + doc["posts"]
    counted: dict[str, int] = {}
    for rel in sorted(lake.glob(f"{SPEND}/usage/*.json")):
        for d in json.loads(lake.read_bytes(rel))["data"]["daily_project_usage"]["usage"]:
            counted[d["date"][:10]] = int(d["usage"])
    return posts, counted


def test_the_report_charts_posts_read_their_cost_and_the_api_s_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_PRICE_PER_POST", "0.01")
    lake = ledger_lake(tmp_path)
    write_lake_report(lake)
    page = lake.read_bytes(REPORT_INDEX).decode("utf-8")
    assert external_refs(page) == []
    posts, counted = expected(lake)
    spec = specs(page)[SPEND_ID]
    bars, line = (layer["data"]["values"] for layer in spec["layer"])
    assert {(r["day"], r["stream"]): r["posts"] for r in bars} == posts
    first = min(day for day, _ in posts)
    assert {r["day"]: r["usage"] for r in line} == {d: n for d, n in counted.items() if d >= first}
    total = sum(posts.values())
    assert f"{total:,} posts over 5 day(s), ${total * 0.01:,.2f} at $0.01 a post" in page
    assert "sample" not in json.dumps(bars)  # generated pages cost nothing

    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: apt-get install -y chromium")
        return
    dom = dom_in_chromium(lake, tmp_path / "profile")
    drawn = drawn_charts(dom)[SPEND_ID]
    assert drawn.get("data-rendered") == "true", dom[-2000:]
    # a bar per (day, pull), and a vertex and a point per day of the API's count
    assert int(drawn.get("data-marks") or -1) == len(posts) + 2 * len(line)


def test_a_lake_without_api_pulls_says_it_cost_nothing(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    spend.record(lake, spend.Spend("s1", "sample", "search_recent", "x", END.isoformat(), 9, 99, "", True))
    write_lake_report(lake)
    page = lake.read_bytes(REPORT_INDEX).decode("utf-8")
    assert SPEND_ID not in specs(page) and "generated and replayed pages cost nothing" in page
