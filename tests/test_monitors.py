"""Monitors (expectations.monitors): bands, thresholds and schema drift on small frames; the volume monitor on
a 30-day sample lake through the real pipeline (ingest, dbt, Great Expectations) with one stream cut by 80% on
its last day, as an API that quietly returned fewer tweets would; failures traced to their bronze line."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from expectations import monitors
from expectations.monitors import MonitorOptions, band, parse_fail
from expectations.report import load_runs
from foundation.lake import Lake
from foundation.settings import ConfigError, Settings, load_settings
from ingestion.pages import stream_key
from pipeline.steps import run_build, run_ingest, run_validate
from tests.test_quality_report import CHROMIUM, _chromium_dump, _facts, _serve, external_refs

END = date(2026, 11, 30)


def tweets_frame(per_stream_day: dict[str, list[int]], end: date = END) -> pd.DataFrame:
    """silver.tweets' monitored columns: ``per_stream_day[stream][i]`` tweets on day i."""
    rows: list[dict[str, Any]] = []
    for stream, counts in per_stream_day.items():
        for i, n in enumerate(counts):
            day = end - timedelta(days=len(counts) - 1 - i)
            for j in range(n):
                rows.append(
                    {
                        "tweet_id": f"{stream}-{day}-{j}",
                        "stream": stream,
                        "endpoint": "search_recent",
                        "seen_in": "data",
                        "created_date": day,
                        "created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                        "author_id": str(j % 7),
                        "author_username": f"u{j % 7}",
                        "lang": "en" if j % 4 else "es",
                        "conversation_id": f"{stream}-{day}-{j}",
                        "text_clean": f"tweet {stream} {day} {j}",
                        "tweet_type": "original",
                    }
                )
    return pd.DataFrame(rows)


def con_with(frame: pd.DataFrame) -> Any:
    con = duckdb.connect()
    con.register("tweets_frame", frame)
    con.execute("create view silver__tweets as select * from tweets_frame")
    return con


REFERENCE = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # the day after END: END is a whole day


def test_band_is_median_and_scaled_mad_with_a_floor() -> None:
    med, lo, hi = band([10, 10, 10, 10, 50], k=3, floor=1)
    assert med == 10 and (lo, hi) == (9, 11)  # MAD 0: the floor; the one odd day moved nothing
    med, lo, hi = band([8, 10, 12, 10, 10], k=2, floor=0)
    assert med == 10 and hi == pytest.approx(10 + 2 * 1.4826 * 0)  # MAD of (2,0,2,0,0) is 0
    _, lo, hi = band([8, 10, 12, 14, 6], k=1, floor=0)
    assert (lo, hi) == pytest.approx((10 - 1.4826 * 2, 10 + 1.4826 * 2))


def test_fail_thresholds_parse_and_name_what_is_wrong() -> None:
    assert parse_fail("volume_drop=0.5, freshness_hours=24") == {"volume_drop": 0.5, "freshness_hours": 24.0}
    assert parse_fail("") == {}
    with pytest.raises(ConfigError, match="volum_drop.*the names: volume_drop"):
        parse_fail("volum_drop=0.5")
    with pytest.raises(ConfigError, match="volume_drop='half'"):
        parse_fail("volume_drop=half")
    with pytest.raises(ConfigError, match="TWEETLAKE_MONITOR_DAYS"):
        MonitorOptions.from_env({"TWEETLAKE_MONITOR_DAYS": "2"})


def test_volume_flags_the_cut_stream_only_and_fails_only_past_a_threshold() -> None:
    con = con_with(tweets_frame({"cut": [50] * 13 + [10], "steady": [40, 44, 38, 41, 39, 42, 40] * 2}))
    found = {
        m.key.removesuffix(" (search_recent)"): m
        for m in monitors.volume(con, "silver__tweets", END, REFERENCE, MonitorOptions())
    }
    assert found["cut"].status == "warning" and found["cut"].value == 10
    assert found["cut"].lower is not None and found["cut"].lower > 10
    assert "-80% against the expected 50" in found["cut"].message
    assert found["steady"].status == "ok"
    assert len(found["cut"].baseline) == 13
    failing = MonitorOptions(fail={"volume_drop": 0.5})
    found = {
        m.key.removesuffix(" (search_recent)"): m
        for m in monitors.volume(con, "silver__tweets", END, REFERENCE, failing)
    }
    assert found["cut"].status == "failed" and found["steady"].status == "ok"
    assert [f.suite for f in monitors.failures(list(found.values()))] == ["monitor.volume"]
    lenient = MonitorOptions(fail={"volume_drop": 0.9})  # out of band, but not past the user's threshold
    [cut] = [
        m for m in monitors.volume(con, "silver__tweets", END, REFERENCE, lenient) if m.key.startswith("cut")
    ]
    assert cut.status == "warning"


def test_volume_of_a_day_in_progress_is_prorated_and_a_new_stream_has_no_baseline() -> None:
    con = con_with(tweets_frame({"old": [48] * 10 + [12], "new": [30, 30, 30]}))
    noon_after_six_hours = datetime(2026, 11, 30, 6, tzinfo=UTC)
    found = {
        m.key.removesuffix(" (search_recent)"): m
        for m in monitors.volume(con, "silver__tweets", END, noon_after_six_hours, MonitorOptions())
    }
    assert found["old"].status == "ok", found["old"].message  # 12 by 06:00 is a quarter of 48
    assert "prorated to 25% of the day" in found["old"].message
    assert found["new"].status == "no baseline" and "2 baseline day(s)" in found["new"].message


def test_rates_duplicates_and_language_mix_move_with_the_data() -> None:
    frame = tweets_frame({"s": [40] * 10})
    last = frame["created_date"] == END
    frame.loc[last, "lang"] = "ja"  # the whole last day in another language
    frame.loc[last & (frame.index % 2 == 0), "author_id"] = None
    frame.loc[last, "text_clean"] = "the same text"
    con = con_with(frame)
    rates = {(m.name, m.key): m for m in monitors.rates(con, "silver__tweets", END, MonitorOptions())}
    assert (
        rates[("null_rate", "author_id")].status == "warning"
        and rates[("null_rate", "author_id")].value == 0.5
    )
    assert rates[("null_rate", "lang")].status == "ok"
    assert rates[("duplicate_text", "text_clean")].value == 1.0
    assert rates[("duplicate_text", "text_clean")].status == "warning"
    [mix] = monitors.language_mix(con, "silver__tweets", END, MonitorOptions())
    assert mix.status == "warning" and mix.value == 1.0 and "ja 100%" in mix.message
    steady = con_with(tweets_frame({"s": [40] * 10}))
    assert all(m.status == "ok" for m in monitors.rates(steady, "silver__tweets", END, MonitorOptions()))
    assert monitors.language_mix(steady, "silver__tweets", END, MonitorOptions())[0].status == "ok"


def test_declared_schema_is_read_from_the_bronze_source() -> None:
    declared = monitors.declared()
    assert {"id", "text", "public_metrics", "entities", "note_tweet", "referenced_tweets"} <= declared[
        "tweets"
    ]
    assert "public_metrics" in declared["users"] and "withheld" in declared["users"]
    assert "count" not in declared["tweets"]  # a nested field name is not a top-level one


def _bronze_line(tweet: dict[str, Any], user: dict[str, Any]) -> str:
    page = {"data": [tweet], "includes": {"users": [user]}, "meta": {"result_count": 1}}
    return json.dumps({"envelope": {"page_number": 1}, "response": page})


def test_schema_drift_names_new_fields_and_declared_fields_gone(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    tweet = {
        "id": "1",
        "text": "hi",
        "created_at": "2026-11-30T00:00:00.000Z",
        "author_id": "9",
        "lang": "en",
    }
    user = {"id": "9", "username": "someone"}
    rel = "bronze/source=api/endpoint=search_recent/stream=q/ingest_date=2026-11-30/r-00000.jsonl"
    # a field nobody asked for (as a new API version might add), one asked for but not read into silver
    # (edit_controls: kept in bronze, not drift), and no `lang` anywhere any more
    drifted = {k: v for k, v in tweet.items() if k != "lang"} | {
        "paid_partnership": True,
        "edit_controls": {},
    }
    flattened = {**tweet, "author": user, "__twarc": {"url": "x"}}  # twarc2's additions are not drift
    flat = json.dumps({"envelope": {"page_number": 2}, "response": flattened})
    lake.write_bytes(
        rel, (_bronze_line(drifted, user) + "\n" + flat.replace('"lang": "en", ', "") + "\n").encode()
    )
    previous = {"tweets": {"lang": 1.0, "id": 1.0}}
    found, presence = monitors.schema_drift(lake, END, previous, MonitorOptions())
    tweets = next(m for m in found if m.key == "tweets")
    assert tweets.status == "warning" and tweets.value == 2
    assert (
        "paid_partnership (50%)" in tweets.message
        and "gone (the previous run saw them): lang" in tweets.message
    )
    assert not any(f in tweets.message for f in ("author", "__twarc", "edit_controls"))
    assert presence["tweets"]["paid_partnership"] == 0.5
    users = next(m for m in found if m.key == "users")
    assert users.status == "ok"
    failing = MonitorOptions(fail={"schema_drift": 1})
    assert next(
        m for m in monitors.schema_drift(lake, END, previous, failing)[0] if m.key == "tweets"
    ).status == ("failed")


# -- the volume monitor on a 30-day sample lake, through the real pipeline ---


def cut_stream_day(lake: Lake, stream: str, day: date, share: float, seed: int = 7) -> int:
    """Drop ``share`` of the tweets a stream's pages of ``day`` hold, in bronze, as an API that returned fewer
    tweets would have sent them (``meta.result_count`` follows); the tweets left out."""
    rng = random.Random(seed)
    dropped = 0
    for rel in lake.glob(
        f"bronze/source=sample/endpoint=search_recent/stream={stream}/ingest_date=*/*.jsonl"
    ):
        out = []
        for raw in lake.read_bytes(rel).decode().splitlines():
            line = json.loads(raw)
            request = line["envelope"].get("request") or {}
            data = line["response"].get("data")
            if str(request.get("start_time", "")).startswith(day.isoformat()) and data:
                kept = [t for t in data if rng.random() >= share]
                dropped += len(data) - len(kept)
                line["response"]["data"] = kept
                line["response"].setdefault("meta", {})["result_count"] = len(kept)
            out.append(json.dumps(line, separators=(",", ":")))
        lake.write_bytes(rel, ("\n".join(out) + "\n").encode())
    return dropped


CUT = "#dataengineering -is:retweet lang:en"  # the first default query


@pytest.fixture(scope="module")
def month_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any, int]:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("month") / "lake")})
    lake = Lake.from_settings(settings)
    assert settings.queries[0] == CUT
    run_ingest(settings, "sample", tweets=9000, days=30, end_date=END)
    dropped = cut_stream_day(lake, stream_key(CUT), END, 0.8)
    run_build(settings)
    report = run_validate(settings, run_id="20261201T000000Z-month", gate=False, as_of=REFERENCE.isoformat())
    return settings, report, dropped


@pytest.mark.slow
def test_a_stream_cut_by_80_percent_on_its_last_day_raises_the_volume_monitor(
    month_lake: tuple[Settings, Any, int],
) -> None:
    settings, report, dropped = month_lake
    volume = {m["key"]: m for m in report.monitors if m["name"] == "volume"}
    assert dropped > 0
    cut = volume[f"{CUT} (search_recent)"]
    assert cut["status"] == "warning" and cut["day"] == END.isoformat(), cut
    assert cut["value"] < 0.35 * cut["baseline"][-1]["value"], cut
    others = {k: m["status"] for k, m in volume.items() if m is not cut}
    assert len(others) >= 4 and set(others.values()) == {"ok"}, others
    # the sample writes every field the API source asks for: no schema drift on it
    assert {m["key"]: m["status"] for m in report.monitors if m["name"] == "schema_drift"} == {
        "tweets": "ok",
        "users": "ok",
    }
    assert report.success, report.describe()  # a warning: the gate passes
    assert f"monitor volume warning: {CUT} (search_recent)" in report.describe()
    index = (Path(settings.lake) / "quality" / "index.html").read_text()
    assert "Monitors, latest run (" in index and "schema_drift" in index
    assert index.index(f"{CUT} (search_recent): ") < index.index("id='suites'")  # out of band comes first


def spoil_one_like_count(lake: Lake, day: date) -> tuple[str, int, str, int]:
    """Set one tweet's like_count to -5 in bronze: (file, line, tweet id, page number) of that line. A tweet
    of the last day's first page of the second query, whose pages are fetched last (it wins in silver)."""
    stream = stream_key("duckdb OR dbt")
    pattern = f"bronze/source=sample/endpoint=search_recent/stream={stream}/ingest_date=*/*.jsonl"
    for rel in sorted(lake.glob(pattern)):
        lines = lake.read_bytes(rel).decode().splitlines()
        for n, raw in enumerate(lines, start=1):
            line = json.loads(raw)
            start = str(line["envelope"]["request"].get("start_time", ""))
            if start.startswith(day.isoformat()) and line["response"].get("data"):
                tweet = line["response"]["data"][0]
                tweet["public_metrics"]["like_count"] = -5
                lines[n - 1] = json.dumps(line, separators=(",", ":"))
                lake.write_bytes(rel, ("\n".join(lines) + "\n").encode())
                return rel, n, tweet["id"], line["envelope"]["page_number"]
    raise AssertionError(f"no page of {day} in {pattern}")


@pytest.fixture(scope="module")
def spoiled_month(month_lake: tuple[Settings, Any, int]) -> tuple[Settings, Any, tuple[str, int, str, int]]:
    settings, _, _ = month_lake
    where = spoil_one_like_count(Lake.from_settings(settings), END)
    run_build(settings)
    report = run_validate(
        settings, run_id="20261201T010000Z-spoiled", gate=False, as_of=REFERENCE.isoformat()
    )
    return settings, report, where


@pytest.mark.slow
def test_a_failing_expectation_shows_its_offending_row_traced_to_the_bronze_line(
    spoiled_month: tuple[Settings, Any, tuple[str, int, str, int]],
) -> None:
    settings, report, (rel, line, tweet_id, page) = spoiled_month
    assert not report.success
    [failure] = [f for f in report.failures if f.suite == "silver.tweets" and f.column == "like_count"]
    assert failure.examples == [-5]
    [row] = failure.rows
    assert (row["tweet_id"], row["like_count"], row["bronze_file"]) == (tweet_id, -5, rel)
    assert (row["line"], row["page_number"]) == (line, page)
    index = (Path(settings.lake) / "quality" / "index.html").read_text()
    failures_at, suites_at = index.index("id='failures'"), index.index("id='suites'")
    assert failures_at < suites_at  # the latest run's failures first
    assert f"{rel}:{line}</code> (page {page})" in index[failures_at:suites_at]
    assert tweet_id in index[failures_at:suites_at]


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed: apt-get install -y chromium (in CI, a missing chromium fails instead)",
)
def test_quality_index_charts_render_offline_with_the_marks_the_runs_imply(
    spoiled_month: tuple[Settings, Any, tuple[str, int, str, int]], tmp_path: Path
) -> None:
    settings, _, (rel, line, tweet_id, page) = spoiled_month
    lake = Lake.from_settings(settings)
    folder = lake.url("quality")
    text = Path(folder, "index.html").read_text()
    assert not external_refs(text)
    runs = load_runs(lake)
    assert [r["run_id"] for r in runs] == ["20261201T010000Z-spoiled", "20261201T000000Z-month"]
    streams = (
        duckdb.connect()
        .execute(
            "select count(distinct stream || endpoint) from "
            f"read_parquet('{settings.lake}/_staging/silver/tweets/**/*.parquet') where seen_in = 'data'"
        )
        .fetchone()[0]
    )
    built = sum(1 for r in runs for s in r["suites"] if s["status"] != "not built")
    # in docs/: the report server serves only the report's own folders
    Path(folder, "docs", "harness.html").write_text(MARKS_HARNESS)
    server, base = _serve(folder)
    try:
        facts = _facts(_chromium_dump(f"{base}/docs/harness.html", tmp_path / "profile"))
        marks = json.loads(facts["marks"])
    finally:
        server.shutdown()
        Path(folder, "docs", "harness.html").unlink()
    assert marks["failed"] == ["true", 2]  # a bar per run
    assert marks["rows"] == ["true", 2 * built]  # a line vertex and a point per table and run
    assert marks["volume-days"] == ["true", 3 * streams * 15]  # band, line and point: 14 baseline days + 1
    points = sum(1 for r in runs for m in r["monitors"] if m["name"] == "language_mix")
    assert marks["monitor-language_mix"] == ["true", 2 * points]
    # as the browser shows them: the failing row traced to its bronze line, the cut stream's volume warning
    assert f"{rel}:{line} (page {page})" in facts["failures"] and tweet_id in facts["failures"]
    [volume] = [
        r for r in facts["monitors"].splitlines() if r.startswith("volume") and f"{CUT} (search_recent)" in r
    ]
    assert "warning" in volume and "-8" in volume, volume


# The index in a same-origin iframe; when its charts are drawn, each chart's rendered state and mark count
MARKS_HARNESS = """<!doctype html><html><body><pre id="out">pending</pre>
<iframe id="f" src="../index.html" style="width:1400px;height:900px"></iframe>
<script>
const f = document.getElementById('f');
f.addEventListener('load', () => {
  const tick = () => {
    const d = f.contentDocument, figs = Array.from(d.querySelectorAll('figure.chart div.vega'));
    if (figs.some(el => !el.dataset.rendered)) { setTimeout(tick, 100); return; }
    const marks = {};
    figs.forEach(el => { marks[el.dataset.chart] = [el.dataset.rendered, Number(el.dataset.marks)]; });
    const text = (sel) => { const el = d.querySelector(sel); return el ? el.innerText : null; };
    document.getElementById('out').textContent = JSON.stringify({
      marks: JSON.stringify(marks), failures: text('ol.failures'), monitors: text('#monitor-table'),
    });
  };
  tick();
});
</script></body></html>"""
