"""Counts in the lake: the counts pages land in bronze (endpoint=counts_*), the build reads them into
silver.tweet_counts only (never as tweets), a damaged counts line is set aside with its file and line, and
the counts_gap monitor compares each complete window with the tweets collected in it.

Real components: the sample source's pages, dbt on DuckDB, Great Expectations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from expectations.monitors import MonitorOptions
from foundation.lake import Lake
from foundation.settings import ConfigError, Settings, load_settings
from ingestion.sources.sample import SampleSource
from pipeline.steps import run_build, run_ingest, run_validate
from tests.fixtures_lake import query

END = date(2026, 11, 30)
DAYS = 7
REFERENCE = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)


def lake_of(root: Path, tweets: int = 3000, **options: Any) -> Settings:
    settings = load_settings({"TWEETLAKE_LAKE": str(root / "lake")})
    run_ingest(settings, "sample", tweets=tweets, days=DAYS, end_date=END, **options)
    run_build(settings)
    return settings


def counts_gap(settings: Settings) -> dict[str, dict[str, Any]]:
    report = run_validate(settings, gate=False, as_of=REFERENCE.isoformat())
    assert report.success, report.describe()  # a monitor warns; the gate passes
    return {m["key"]: m for m in report.monitors if m["name"] == "counts_gap"}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return lake_of(tmp_path_factory.mktemp("clean"))


def test_counts_pages_land_in_bronze_and_build_tweet_counts_only(clean: Settings) -> None:
    plan = SampleSource(tweets=3000, days=DAYS, end_date=END)
    searches = [s for s in plan.streams if s.endpoint == "search_recent"]
    files = sorted((Path(clean.lake) / "bronze").glob("source=sample/endpoint=counts_recent/*/*/*.jsonl"))
    assert len(files) == len(searches)  # a file per query: one page per week of a day per bucket

    rows = query(
        clean,
        f"select query, granularity, cast(window_start as date), tweet_count, endpoint "
        f"from read_parquet('{clean.lake}/_staging/silver/tweet_counts/**/*.parquet') order by 1, 3",
    )
    expected = sorted(
        (s.stream, "day", plan.day_dates()[d], plan.counted(d, s.index), "counts_recent")
        for s in searches
        for d in range(DAYS)
    )
    assert rows == expected
    # no tweet came from a counts page, and nothing was set aside
    leaked = query(
        clean,
        f"select count(*) from read_parquet('{clean.lake}/_staging/silver/tweets/**/*.parquet') "
        "where endpoint like 'counts%' or tweet_id is null",
    )
    rejected = query(
        clean,
        f"select count(*) from read_parquet('{clean.lake}/_staging/silver/rejected_pages/**/*.parquet')",
    )
    assert leaked == [(0,)] and rejected == [(0,)]


def test_an_untouched_lake_is_within_its_counts(clean: Settings) -> None:
    gaps = counts_gap(clean)
    assert set(gaps) == set(clean.queries)
    assert {k: (m["status"], m["value"]) for k, m in gaps.items()} == {q: ("ok", 0.0) for q in clean.queries}
    assert all(len(m["baseline"]) == DAYS for m in gaps.values())  # every day of the lake was judged


def test_the_drill_s_cut_day_falls_short_of_its_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = lake_of(tmp_path, drill_drop=0.8)
    gaps = counts_gap(settings)
    cut, other = settings.queries
    assert gaps[other]["status"] == "ok", gaps[other]
    flagged = gaps[cut]
    assert flagged["status"] == "warning", flagged
    plan = SampleSource(tweets=3000, days=DAYS, end_date=END, drill_drop=0.8)
    kept, counted = plan.per_stream_day(DAYS - 1, 0), plan.counted(DAYS - 1, 0)
    assert flagged["value"] == pytest.approx(1 - kept / counted, abs=1e-4)
    assert f"{kept:,} tweets collected of the {counted:,}" in flagged["message"]
    assert f"{END:%Y-%m-%d} 00:00" in flagged["message"]
    # the other days of the cut query are whole: only the last window is short
    assert [b["value"] for b in flagged["baseline"]][:-1] == [0.0] * (DAYS - 1)

    # it fails the gate only past a threshold the user sets
    # (below a threshold it stays a warning: the rule every monitor shares, tests/test_monitors.py checks it)
    monkeypatch.setenv("TWEETLAKE_MONITOR_FAIL", "counts_gap=0.5")
    report = run_validate(settings, gate=False, as_of=REFERENCE.isoformat())
    assert [f.column for f in report.failures if f.suite == "monitor.counts_gap"] == [cut], report.describe()


def test_a_damaged_counts_line_is_set_aside_with_its_line_and_the_rest_kept(tmp_path: Path) -> None:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path / "lake")})
    run_ingest(settings, "sample", tweets=300, days=14, end_date=END)  # two counts pages a query
    lake = Lake(settings.lake)
    [target, *_] = sorted(lake.glob("bronze/source=sample/endpoint=counts_recent/*/*/*.jsonl"))
    lines = lake.read_bytes(target).splitlines(keepends=True)
    assert len(lines) == 2
    damaged = lines[0].replace(b'"tweet_count":', b'"tweet_count":"many","x":', 1)
    lake.write_bytes(target, damaged + lines[1])
    run_build(settings)

    rejected = query(
        settings,
        "select bronze_file, line, reason from "
        f"read_parquet('{settings.lake}/_staging/silver/rejected_pages/**/*.parquet')",
    )
    assert [(f, n) for f, n, _ in rejected] == [(target, 1)]
    assert "tweet_count" in rejected[0][2]
    days = query(
        settings,
        "select query, count(*) from "
        f"read_parquet('{settings.lake}/_staging/silver/tweet_counts/**/*.parquet') group by 1 order by 1",
    )
    # the damaged page's week is gone for its query only; its second page and the other query are whole
    assert sorted(n for _, n in days) == [7, 14]


def test_the_tolerance_is_a_share_and_says_what_is_wrong() -> None:
    assert MonitorOptions.from_env({"TWEETLAKE_COUNTS_TOLERANCE": "0.05"}).counts_tolerance == 0.05
    with pytest.raises(ConfigError, match="TWEETLAKE_COUNTS_TOLERANCE='5%'"):
        MonitorOptions.from_env({"TWEETLAKE_COUNTS_TOLERANCE": "5%"})


def test_the_dag_s_one_task_per_stream_lands_the_query_s_counts_too() -> None:
    """The refresh DAG maps one ingest per query and account over the sample: their union is the CLI's
    pulls, counts included (a query's counts go with its query's task)."""
    from orchestration.refresh import OnlyStream

    source = SampleSource(tweets=300, days=2, end_date=END)
    everything = sorted((p.endpoint, p.stream) for p in source.pulls())
    streams = [{"kind": "query", "name": q} for q in source.queries]
    streams += [{"kind": "account", "name": a} for a in source.accounts]
    tasks = [(p.endpoint, p.stream) for s in streams for p in OnlyStream(source, s).pulls()]
    assert sorted(tasks) == everything and ("counts_recent", source.queries[0]) in tasks
