"""The before/after table of ``benchmarks.run --against``: one row per step measured by both runs."""

from __future__ import annotations

from typing import Any

from benchmarks.run import comparison


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
