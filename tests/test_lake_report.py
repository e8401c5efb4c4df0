"""The lake report (``<lake>/report/index.html``, pipeline.lake_report): the published gold as charts.

One small lake is built for real (sample ingest, dbt build, validation, publish: ``steps.refresh``) and its
report opened in headless Chromium, offline (every host but 127.0.0.1 unresolvable). Each chart must have
drawn, and drawn as many marks as the lake implies, counted here from the gold Parquet exports and silver
files with DuckDB (not through the report's own views): bars, line vertices and their points. Lakes with no
gold, or with gold too wide for a page (many streams, many days), a damaged table and an empty one, are
hand-made and need no build.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from foundation.lake import Lake
from foundation.settings import Settings, load_settings
from pipeline import lake_report, steps
from pipeline.lake_report import (
    MAX_DAYS,
    MAX_STREAMS,
    OTHER_STREAMS,
    REPORT,
    REPORT_INDEX,
    TOP_EDGES,
    TOP_HASHTAGS,
    TOP_TWEETS,
    write_lake_report,
)
from tests.test_quality_report import CHROMIUM, _chromium_dump, external_refs

CHART_IDS = [s.chart_id for s in lake_report.SECTIONS]
END = date(2026, 11, 20)


@pytest.fixture(scope="module")
def published_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """A lake refreshed once from the sample source (300 tweets, 2 days, 3 streams), its report written."""
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("lake_report") / "lake")})
    steps.refresh(settings, source_options={"tweets": 300, "days": 2, "end_date": END})
    lake = Lake.from_settings(settings)
    assert write_lake_report(lake) == lake.url(REPORT_INDEX)
    yield lake


def _gold(lake: Lake, table: str) -> str:
    return f"read_parquet('{lake.url('gold', table)}.parquet')"


def _rows(sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _count(sql: str) -> int:
    return int(_rows(sql)[0][0])


def top_tweet_text(lake: Lake) -> str:
    return str(
        _rows(f"select text from {_gold(lake, 'top_tweets')} order by engagement desc, tweet_id limit 1")[0][
            0
        ]
    )


def expected_marks(lake: Lake) -> dict[str, int]:
    """The marks each chart must draw for this lake (line charts draw a vertex and a point per row)."""
    silver = f"read_parquet('{lake.url('_staging/silver', 'tweets')}/**/*.parquet', hive_partitioning = true)"
    collected = "seen_in is distinct from 'includes'"
    top_tags = (
        f"select tag from {_gold(lake, 'hashtag_trends_daily')} where kind = 'hashtag' group by tag "
        f"order by sum(tweets) desc, tag limit {TOP_HASHTAGS}"
    )
    columns = "source_user_id, source_username, target_user_id, target_username, interaction, interactions"
    pairs = pd.DataFrame(
        _rows(f"select {columns} from {_gold(lake, 'interactions')}"), columns=columns.split(", ")
    )
    pairs["src"] = pairs["source_username"].fillna(pairs["source_user_id"])
    pairs["dst"] = pairs["target_username"].fillna(pairs["target_user_id"])
    edges = pairs.groupby(["source_user_id", "target_user_id"]).agg(
        total=("interactions", "sum"),
        src=("src", "max"),
        dst=("dst", "max"),
        kinds=("interaction", "nunique"),
    )
    edges["label"] = "@" + edges["src"] + " → @" + edges["dst"]
    edges = edges.reset_index().sort_values(
        ["total", "label", "source_user_id", "target_user_id"], ascending=[False, True, True, True]
    )
    return {
        "tweets-daily": _count(
            f"select count(*) from (select distinct day, stream from {_gold(lake, 'sentiment_daily')})"
        ),
        "engagement-daily": 2
        * _count(f"select count(distinct (created_date, stream)) from {silver} where {collected}"),
        "hashtags": 2
        * _count(
            f"select count(*) from {_gold(lake, 'hashtag_trends_daily')} "
            f"where kind = 'hashtag' and tag in ({top_tags})"
        ),
        "sentiment": 2 * _count(f"select count(*) from {_gold(lake, 'sentiment_daily')}"),
        "media": _count(
            f"select count(distinct (day, media_type)) from {_gold(lake, 'media_daily')} "
            "where media_type != 'none'"
        ),
        "interactions": int(edges.head(TOP_EDGES)["kinds"].sum()),
        "top-tweets": min(
            TOP_TWEETS, _count(f"select count(distinct tweet_id) from {_gold(lake, 'top_tweets')}")
        ),
    }


class _Charts(HTMLParser):
    """Each figure's drawing element's attributes, by chart id, from a page as the browser left it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "div" and "vega" in (found.get("class") or "").split() and found.get("data-chart"):
            self.found[str(found["data-chart"])] = found


def drawn_charts(dom: str) -> dict[str, dict[str, str | None]]:
    parser = _Charts()
    parser.feed(dom)
    return parser.found


def specs(page: str) -> dict[str, dict[str, Any]]:
    """Each figure's Vega-Lite spec, by chart id, as the page carries it."""
    found = re.findall(
        r"<figure class='chart' id='([^']+)'>.*?<script type='application/json' class='spec'>(.*?)</script>",
        page,
        re.S,
    )
    return {chart_id: json.loads(spec.replace("<\\/", "</")) for chart_id, spec in found}


def _serve(folder: str) -> http.server.ThreadingHTTPServer:
    # expectations.report.make_server serves only the quality report's parts (index.html, docs, runs):
    # it refuses report/static/charts, so the report folder is served by the stdlib here
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def dom_in_chromium(lake: Lake, profile: Path) -> str:
    """The report page as headless Chromium left it, served from the lake's report folder."""
    server = _serve(lake.url(REPORT))
    try:
        return _chromium_dump(f"http://127.0.0.1:{server.server_address[1]}/index.html", profile)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_lake_report_page_shows_the_published_gold_offline(published_lake: Lake) -> None:
    lake = published_lake
    page = lake.read_bytes(REPORT_INDEX).decode("utf-8")
    assert external_refs(page) == []
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    for src in re.findall(r"""<script src=["']([^"']+)["']""", page):
        assert lake.exists(f"{REPORT}/{src}"), src
    assert "href='../quality/index.html'" in page and lake.exists("quality/index.html")
    assert set(specs(page)) == set(CHART_IDS)  # every chart drawn, none an empty figure
    assert "class='chart empty'" not in page
    published = lake.read_json("gold/_published.json")
    assert f"gold published by run {published['run_id']}" in page
    # the top tweet's text, escaped, in the table
    assert f"<td class='text'>{html.escape(top_tweet_text(lake))}</td>" in page
    # each chart's note names its table
    for chart_id, table in [
        ("tweets-daily", "gold.sentiment_daily"),
        ("engagement-daily", "silver.tweets"),
        ("hashtags", "gold.hashtag_trends_daily"),
        ("sentiment", "gold.sentiment_daily"),
        ("media", "gold.media_daily"),
        ("interactions", "gold.interactions"),
        ("top-tweets", "gold.top_tweets"),
    ]:
        figure = page[page.index(f"id='{chart_id}'") :]
        assert table in figure[figure.index("</script>") : figure.index("</figure>")], chart_id


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed: apt-get install -y chromium (in CI, a missing chromium fails instead)",
)
def test_lake_report_charts_draw_the_marks_the_lake_implies_in_chromium(
    published_lake: Lake, tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required in CI: apt-get install -y chromium (make test does it as root)"
    lake = published_lake
    streams = _count(f"select count(distinct stream) from {_gold(lake, 'sentiment_daily')}")
    assert 1 < streams <= MAX_STREAMS  # the sample lake: every stream and day charted, nothing folded
    expected = expected_marks(lake)
    assert all(n > 0 for n in expected.values()), expected
    dom = dom_in_chromium(lake, tmp_path / "profile")
    drawn = drawn_charts(dom)
    assert {c: d.get("data-rendered") for c, d in drawn.items()} == dict.fromkeys(CHART_IDS, "true"), dom[
        -3000:
    ]
    assert {c: int(d.get("data-marks") or -1) for c, d in drawn.items()} == expected
    assert html.escape(top_tweet_text(lake), quote=False) in dom


def test_lake_report_without_gold_says_what_to_run(lake_settings: Settings) -> None:
    lake = Lake.from_settings(lake_settings)
    assert write_lake_report(lake) == lake.url(REPORT_INDEX)
    page = lake.read_bytes(REPORT_INDEX).decode("utf-8")
    assert specs(page) == {} and "class='vega'" not in page
    assert page.count("class='chart empty'") == len(CHART_IDS)
    assert "no gold published yet: run tweetlake refresh" in page
    for table in ("gold.sentiment_daily", "gold.hashtag_trends_daily", "gold.media_daily", "gold.top_tweets"):
        assert f"{table} not published yet: run tweetlake refresh" in page
    assert "silver.tweets not built yet: run tweetlake refresh" in page
    assert lake.exists(f"{REPORT}/static/charts/vega-embed.min.js")  # ready for the first publish
    assert external_refs(page) == []


def _write_parquet(lake: Lake, rel: str, df: pd.DataFrame) -> None:
    path = Path(lake.url(rel))
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def test_lake_report_folds_a_wide_lake_and_names_damaged_and_empty_tables(tmp_path: Path) -> None:
    """A lake (gold as an older lake's plain Parquet files) with 15 streams over 120 days: the charts keep
    the last MAX_DAYS days and MAX_STREAMS series, the smaller streams summed, no tweet lost; a damaged,
    an empty and an outdated table each get an empty figure saying so, and the page is still written."""
    lake = Lake(str(tmp_path / "lake"))
    days = [END - timedelta(days=i) for i in range(120)]
    sentiment = pd.DataFrame(
        [
            {
                "stream": f"stream{s:02d}",
                "day": day,
                "tweets": 100 - s,
                "mean_score": 0.1,
                "share_positive": 0.5,
                "share_neutral": 0.3,
                "share_negative": 0.2,
            }
            for s in range(15)
            for day in days
        ]
    )
    _write_parquet(lake, "gold/sentiment_daily.parquet", sentiment)
    _write_parquet(
        lake, "gold/media_daily.parquet", pd.DataFrame({"day": [], "stream": [], "media_type": []})
    )
    Path(lake.url("gold/interactions.parquet")).write_bytes(b"not parquet")
    # an older lake's table, before a column the chart reads
    _write_parquet(
        lake, "gold/hashtag_trends_daily.parquet", pd.DataFrame({"day": days[:2], "tag": ["a", "b"]})
    )
    write_lake_report(lake)
    page = lake.read_bytes(REPORT_INDEX).decode("utf-8")

    shown = specs(page)
    assert set(shown) == {"tweets-daily", "sentiment"}
    for chart_id in shown:
        rows = shown[chart_id]["data"]["values"]
        assert len(rows) == MAX_DAYS * MAX_STREAMS
        assert {r["stream"] for r in rows} == {f"stream{s:02d}" for s in range(MAX_STREAMS - 1)} | {
            OTHER_STREAMS
        }
        assert {r["day"] for r in rows} == {d.isoformat() for d in days[:MAX_DAYS]}
        assert sum(r["tweets"] for r in rows) == sentiment[sentiment["day"] > days[MAX_DAYS]]["tweets"].sum()
    other = next(r for r in shown["sentiment"]["data"]["values"] if r["stream"] == OTHER_STREAMS)
    assert other["mean_score"] == pytest.approx(0.1)  # a tweet-weighted mean of its streams' means
    assert f"The {MAX_STREAMS - 1} streams with the most tweets; the other 6 summed." in page
    assert "gold.media_daily has no rows yet" in page
    assert "gold.interactions cannot be read:" in page and "is damaged" in page
    assert "gold.top_tweets not published yet: run tweetlake refresh" in page
    assert "gold.hashtag_trends_daily cannot be charted: BinderException" in page
    assert "column &quot;tweets&quot; not found" in page
