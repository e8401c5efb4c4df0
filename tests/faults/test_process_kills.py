"""Fault: the process is SIGKILLed inside each step (a machine lost, an OOM kill, ``kill -9`` of the job).

Each step runs as the real CLI in its own process group; a kill point (tests/faults/killpoint/) kills the
whole group (the CLI and dbt's subprocess) at a chosen call: ingest after some runs committed and one
object landed uncommitted, build in the middle of installing silver files, validate after the suites ran
but before the gate was recorded, publish after some gold tables were committed and exported. Each killed
step is then rerun: the rerun takes over the dead process's lease, and the finished lake equals a lake
built by one clean refresh of the same input, layer by layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.layout import GOLD, PUBLISHED
from foundation.settings import Settings, load_settings
from pipeline import steps
from tests.bronze_reader import bronze
from tests.test_dbt_models import SILVER, table_rows
from tests.test_dbt_models import query as lake_query

pytestmark = pytest.mark.slow

KILLPOINT = Path(__file__).parent / "killpoint"
SAMPLE = ["--source", "sample", "--tweets", "800", "--days", "2", "--end-date", "2026-11-20"]


def tweetlake(lake: str, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TWEETLAKE_LEASE_WAIT="5")
    if kill_at:
        env["TWEETLAKE_TEST_KILL_AT"] = kill_at
        env["TWEETLAKE_TEST_KILL_MARK"] = f"{lake}.killed"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KILLPOINT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args, "--lake", lake],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,  # its own process group: the kill point kills the CLI and dbt, not pytest
    )


def killed(lake: str, *args: str, at: str) -> None:
    done = tweetlake(lake, *args, kill_at=at)
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)
    mark = Path(f"{lake}.killed")
    assert mark.read_text() == at  # killed there (in the CLI or in dbt's process), not by another failure
    mark.unlink()


def ok(lake: str, *args: str) -> str:
    done = tweetlake(lake, *args)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout + done.stderr


def silver_rows(lake: Lake, table: str) -> tuple[list[str], list[tuple]]:
    """A silver table's rows without ``run_id`` (api_errors keeps the ingest run's id: new each run)."""
    columns, rows = table_rows(lake, "silver", table)
    keep = [i for i, c in enumerate(columns) if c != "run_id"]
    return [columns[i] for i in keep], sorted(tuple(row[i] for i in keep) for row in rows)


def gold_rows(lake: Lake, table: str) -> list[tuple]:
    rows = lake_query(lake, f"select * from read_parquet('{lake.url(GOLD, table)}.parquet')")
    # means of doubles differ in the last bits with the order rows were added in
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("clean") / "lake")})
    steps.refresh(settings, source_options={"tweets": 800, "days": 2, "end_date": date(2026, 11, 20)})
    return settings


def test_a_kill_inside_each_step_then_a_rerun_gives_the_clean_lake(clean: Settings, tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    lake = Lake(root)

    # ingest: two runs committed, the third's object landed but not committed
    killed(root, "ingest", *SAMPLE, at="ingestion.bronze:BronzeRun.commit:3")
    ok(root, "ingest", *SAMPLE)
    ids = [i for r in bronze(lake) for i in r.tweet_ids]
    clean_ids = [i for r in bronze(Lake(clean.lake)) for i in r.tweet_ids]
    assert sorted(ids) == sorted(clean_ids)  # none lost, none twice
    assert not [p for p in Path(root).rglob("*.tmp")]

    # build: dbt killed while installing silver's files (some partitions replaced, the rest not)
    killed(root, "build", at="foundation.lakefiles:_put:4")
    said = ok(root, "build")
    assert "took over the lake's lease" in said  # from the dead build, at once (its pid is gone)
    for table in SILVER:
        assert silver_rows(lake, table) == silver_rows(Lake(clean.lake), table), table

    # validate: the suites ran, the gate was never recorded: publish refuses, a rerun validates
    killed(root, "validate", at="expectations.validate:_keep_results:1")
    refused = tweetlake(root, "publish")
    assert refused.returncode == 3, (refused.stdout, refused.stderr)
    assert not lake.exists(PUBLISHED)
    ok(root, "validate")

    # publish: killed after two tables were committed and exported
    killed(root, "publish", at="pipeline.publish:export:3")
    assert not lake.exists(PUBLISHED)  # readers of _published.json still see no publish
    ok(root, "publish")

    published = json.loads(lake.read_bytes(PUBLISHED))
    expected = json.loads(Lake(clean.lake).read_bytes(PUBLISHED))
    assert published["tables"] == expected["tables"]
    for table in expected["tables"]:
        assert gold_rows(lake, table) == gold_rows(Lake(clean.lake), table), table
    assert not list((Path(root) / "_staging" / "_scratch").glob("*"))
