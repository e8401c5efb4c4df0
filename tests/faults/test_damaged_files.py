"""Fault: a silver, build-state or gold file damaged in place (truncated: a bad copy, a full disk elsewhere,
a tool that wrote over it).

At first every reader stopped on it: the next build failed in dbt, ``tweetlake validate`` and every
``tweetlake sql`` query (even of other tables) failed with DuckDB's "No magic bytes found", and nothing said
what to do. Now the build finds damaged files before it starts (the last 8 bytes of each file) and
rebuilds silver and gold from bronze, a damaged sentiment cache file is dropped (its texts scored again),
readers name the file and the command that heals it, and queries of the other tables still work.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.layout import GOLD
from foundation.settings import Settings, load_settings
from pipeline import steps
from tests.faults.test_process_kills import gold_rows, silver_rows
from tests.test_dbt_models import SILVER

pytestmark = pytest.mark.slow


def tweetlake(lake: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args, "--lake", lake],
        capture_output=True,
        text=True,
        timeout=600,
    )


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("damaged") / "lake")})
    steps.refresh(settings, source_options={"tweets": 800, "days": 2, "end_date": date(2026, 11, 20)})
    return settings


def test_damaged_silver_and_state_files_are_named_and_the_next_build_heals_them(built: Settings) -> None:
    root = Path(built.lake)
    lake = Lake(built.lake)
    before = {table: silver_rows(lake, table) for table in SILVER}
    tweets = sorted((root / "_staging" / "silver" / "tweets").glob("dt=*/data_0.parquet"))[-1]
    processed = next((root / "_state" / "build" / "bronze_files").rglob("*.parquet"))
    scores = next((root / "_state" / "build" / "tweet_sentiment").rglob("*.parquet"))
    for path in (tweets, processed, scores):
        truncate(path)

    other = tweetlake(built.lake, "sql", "select count(*) as n from silver.users", "--format", "csv")
    assert other.returncode == 0, other.stderr  # the other tables still answer
    assert int(other.stdout.split()[-1]) == len(before["users"][1])

    # the damaged file is staged silver: published silver (its own copy) still answers, whole
    query = tweetlake(built.lake, "sql", "select count(*) from silver.tweets", "--format", "csv")
    assert query.returncode == 0, query.stderr
    assert int(query.stdout.split()[-1]) == len(before["tweets"][1])

    gate = tweetlake(built.lake, "validate")
    assert gate.returncode == 1 and f"{tweets} is damaged (not a whole Parquet file)" in gate.stderr, (
        gate.stderr
    )
    assert "the next `tweetlake build` finds it and rebuilds" in gate.stderr
    assert "Traceback" not in gate.stderr

    healed = tweetlake(built.lake, "build")
    assert healed.returncode == 0, healed.stderr[-3000:]
    assert (
        "damaged table file(s), not whole Parquet" in healed.stderr and "rebuilding silver" in healed.stderr
    )
    assert "removing 1 damaged sentiment cache file(s)" in healed.stderr
    for table in SILVER:
        assert silver_rows(lake, table) == before[table], table
    assert tweetlake(built.lake, "validate").returncode == 0


def test_a_damaged_gold_export_is_rewritten_by_the_next_publish(built: Settings) -> None:
    lake = Lake(built.lake)
    before = gold_rows(lake, "top_tweets")
    export = Path(built.lake) / GOLD / "top_tweets.parquet"
    truncate(export)
    for step in ("build", "validate", "publish"):
        done = tweetlake(built.lake, step)
        assert done.returncode == 0, (step, done.stderr[-3000:])
    assert gold_rows(lake, "top_tweets") == before
