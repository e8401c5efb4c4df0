"""The before/after table of ``benchmarks.run --against``: one row per step measured by both runs, and the
one bronze both checkouts build with ``--same-bronze``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.run import Bronze, bronze_files, comparison, main


def result(commit: str, walls: dict[str, float], ratio: float) -> dict[str, Any]:
    steps = {name: {"wall_s": wall, "peak_rss_mb": 100.0 + wall} for name, wall in walls.items()}
    return {"label": "1M", "commit": commit, "steps": steps, "ratios": {"build_over_floor": ratio}}


def test_each_common_step_is_compared_and_a_step_only_one_side_ran_is_left_out() -> None:
    before = result("aaa111", {"ingest": 8.0, "build_full": 40.0}, 20.0)
    after = result("bbb222", {"ingest": 6.0, "build_full": 44.0, "baseline_pandas": 90.0}, 22.0)
    table = comparison(before, after)
    assert "before (aaa111) and after (bbb222)" in table
    assert "| ingest | 8.00 | 6.00 | -25.0% | 108 | 106 |" in table
    assert "| build_full | 40.00 | 44.00 | +10.0% | 140 | 144 |" in table
    assert "baseline_pandas" not in table  # measured once, by the after run only: nothing to compare
    assert "| build_over_floor | 20.0 | 22.0 |" in table


def test_one_bronze_is_shared_by_hard_links_the_extra_day_apart(tmp_path: Path) -> None:
    source = tmp_path / "lake-bronze"
    day = "bronze/source=sample/endpoint=e/stream=s/ingest_date=2026-10-30/a.jsonl"
    extra = "bronze/source=sample/endpoint=e/stream=s/ingest_date=2026-11-01/b.jsonl"
    (source / day).parent.mkdir(parents=True)
    (source / day).write_bytes(b"{}\n")
    days = bronze_files(source)
    (source / extra).parent.mkdir(parents=True)
    (source / extra).write_bytes(b"{}\n{}\n")
    bronze = Bronze(source, sorted(days), sorted(bronze_files(source) - days))
    assert (bronze.days, bronze.extra_day) == ([day], [extra])
    lake = tmp_path / "lake"
    bronze.link(bronze.days, lake)
    assert bronze_files(lake) == {day} and (lake / day).stat().st_ino == (source / day).stat().st_ino
    bronze.link(bronze.extra_day, lake)
    assert bronze_files(lake) == {day, extra}


def test_same_bronze_without_a_tree_to_compare_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--size", "10k", "--same-bronze"])
    assert "pass --against TREE too" in capsys.readouterr().err
