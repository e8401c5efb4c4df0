"""Fault: writers at the same time. Two refreshes from two work dirs on one lake take turns through the
lake lease (tests/test_lease.py, test_two_refreshes_from_two_work_dirs_on_one_lake_take_turns_and_lose_
nothing); here an ingest lands new bronze while a build is running, which takes no lease by design (the DAG's
per-stream ingests run beside a build): the build reads what it listed, the next build the rest.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.layout import LEASE
from foundation.settings import load_settings
from pipeline import steps
from tests.bronze_reader import bronze_tweet_ids
from tests.faults.test_reingest import silver_ids

pytestmark = pytest.mark.slow


def test_an_ingest_while_a_build_runs_loses_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    settings = load_settings({"TWEETLAKE_LAKE": root})
    lake = Lake(root)
    steps.run_ingest(settings, "sample", tweets=1500, days=2, end_date=date(2026, 11, 19))
    first = bronze_tweet_ids(lake)

    build = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "build", "--lake", root],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not lake.exists(LEASE):  # the build holds the lease from its start to its end
            assert build.poll() is None and time.monotonic() < deadline, "the build did not start"
            time.sleep(0.05)
        # the next days, landed while the build runs
        steps.run_ingest(settings, "sample", tweets=900, days=1, end_date=date(2026, 11, 20))
        assert lake.exists(LEASE), "the ingest should have overlapped the build"
        out, _ = build.communicate(timeout=600)
    finally:
        build.kill()
    assert build.returncode == 0, out[-3000:]
    assert first <= silver_ids(lake) <= bronze_tweet_ids(lake)  # what it listed, maybe more, nothing else

    steps.run_build(settings)
    assert silver_ids(lake) == bronze_tweet_ids(lake)
