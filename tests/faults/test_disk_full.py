"""Fault: the lake's local disk fills up, during an ingest and during a build.

A small tmpfs stands for the full disk (mounting needs root: the test skips, saying why, where it cannot).
At first an ingest on a full disk said only ``OSError: [Errno 28] No space left on device``, and a build
buried it under dbt's tracebacks. Now both say which disk and what to do, nothing half-written stays, and
the rerun after freeing space gives the lake a disk with room would have.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.settings import Settings, load_settings
from pipeline import steps
from tests.bronze_reader import bronze
from tests.faults.test_process_kills import silver_rows
from tests.test_dbt_models import SILVER

pytestmark = pytest.mark.slow

SAMPLE = {"tweets": 3000, "days": 2, "end_date": date(2026, 11, 20)}
ARGS = ["--source", "sample", "--tweets", "3000", "--days", "2", "--end-date", "2026-11-20"]


def mount(point: Path, size: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([*options, f"size={size}"]), "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "disk"
    point.mkdir()
    if os.geteuid() != 0 or mount(point, "1m").returncode != 0:
        pytest.skip("needs root and mount (a small tmpfs stands for the full disk)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def resize(point: Path, size: int) -> None:
    done = mount(point, f"{size // 1024}k", "remount")
    assert done.returncode == 0, done.stderr


def used(point: Path) -> int:
    st = os.statvfs(point)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def tweetlake(lake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args, "--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("roomy") / "lake")})
    steps.run_ingest(settings, "sample", **SAMPLE)
    steps.run_build(settings)
    return settings


def test_a_full_disk_stops_ingest_and_build_clearly_and_the_rerun_loses_nothing(
    small_disk: Path, roomy: Settings
) -> None:
    lake = small_disk / "lake"
    failed = tweetlake(lake, "ingest", *ARGS)
    assert failed.returncode == 1
    message = failed.stderr.strip().splitlines()[-1]
    assert "no space left on the device writing " + str(lake) in message, failed.stderr
    assert "Free space there" in message and "rerun the same command" in message
    assert "Traceback" not in failed.stderr
    assert not list(lake.rglob("*.tmp"))  # nothing half-written

    resize(small_disk, 64 << 20)
    assert tweetlake(lake, "ingest", *ARGS).returncode == 0
    ids = sorted(i for r in bronze(Lake(str(lake))) for i in r.tweet_ids)
    assert ids == sorted(i for r in bronze(Lake(roomy.lake)) for i in r.tweet_ids)

    resize(small_disk, used(small_disk) + (256 << 10))  # room for a little, not for silver
    failed = tweetlake(lake, "build")
    assert failed.returncode == 1
    error = failed.stderr[failed.stderr.rindex("tweetlake: dbt build") :]  # after dbt's streamed lines
    assert "No space left on device: the disk under the lake" in error, failed.stderr[-3000:]
    assert "rerun `tweetlake build`" in error
    assert len(error.splitlines()) <= 3  # the clear message, not dbt's wall of tracebacks

    resize(small_disk, 64 << 20)
    assert tweetlake(lake, "build").returncode == 0
    for table in SILVER:
        assert silver_rows(Lake(str(lake)), table) == silver_rows(Lake(roomy.lake), table), table
