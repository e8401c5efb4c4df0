"""The benchmark runner keeps working: run it small and check the table it writes (no timed assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def test_runner_writes_every_step_and_ratio(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--size",
            "10k",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads((tmp_path / "results" / "10k.json").read_text())
    steps = result["steps"]
    for name in (
        "ingest",
        "floor",
        "build_full",
        "validate",
        "baseline_pandas",
        "ingest_day",
        "build_incremental",
        "validate_incremental",
    ):
        assert steps[name]["returncode"] == 0
        assert steps[name]["wall_s"] > 0 and steps[name]["peak_rss_mb"] > 0
    assert result["machine"]["cores"] >= 1
    assert set(result["ratios"]) >= {
        "build_over_floor",
        "incremental_over_full",
        "validation_over_build",
        "baseline_over_build_excl_sentiment",
    }
    table = (tmp_path / "results" / "10k.md").read_text()
    assert "| build_full |" in table and "build_over_floor" in table
    assert not (tmp_path / "work" / "lake-10k").exists(), "the generated lake is removed unless --keep"


def test_a_failing_step_keeps_what_was_measured_and_says_where_it_stopped(tmp_path: Path) -> None:
    # a DuckDB memory limit no build fits in: the build step fails, after ingest and the floor
    env = {**os.environ, "TWEETLAKE_MEMORY_LIMIT": "1MB"}
    argv = ["--size", "2k", "--no-baseline", "--work", str(tmp_path / "w"), "--results", str(tmp_path / "r")]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "benchmark step build_full failed" in done.stderr
    result = json.loads((tmp_path / "r" / "2k.json").read_text())
    assert list(result["steps"]) == ["ingest", "floor", "build_full"]
    assert result["steps"]["ingest"]["returncode"] == 0 and result["steps"]["build_full"]["returncode"] != 0
    assert result["failed"]["step"] == "build_full"
    assert "The build_full step failed" in (tmp_path / "r" / "2k.md").read_text()
