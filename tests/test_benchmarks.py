"""The benchmark runner keeps working: run it small and check the table it writes (no timed assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.config import REPO_ROOT

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
