"""Faults under Airflow (issue 17): freshness of scheduled runs; a task killed and retried from another work
dir; a backfill of three intervals while a manual run is triggered.

Each case checks what the matrix asks of every fault: no tweet lost or duplicated (silver against bronze, read
back independently by ``tests.bronze_reader``), a message naming what failed and what to do, and no secret in
what the run wrote. Airflow runs cost minutes each, so each case is one Airflow session with many assertions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pendulum
import pytest

from foundation.lake import Lake
from foundation.layout import PUBLISHED
from foundation.settings import Settings, load_settings
from pipeline import cli, steps
from tests.bronze_reader import bronze
from tests.fixtures_airflow import WebhookReceiver
from tests.test_airflow_runs import load_dag, task_states

pytestmark = pytest.mark.slow

SECRET = "AAAAfaults-airflow-bearer-token-never-shown"


@pytest.fixture
def airflow_env(tmp_path: Path, airflow_db: str) -> Iterator[Settings]:
    """A local lake and work dir for tasks run in this process (``dag.test()``); os.environ put back after."""
    saved = dict(os.environ)
    os.environ.update(
        TWEETLAKE_LAKE=str(tmp_path / "lake"),
        TWEETLAKE_WORK_DIR=str(tmp_path / "work"),
        TWITTER_BEARER_TOKEN=SECRET,  # registered as a secret by every task: must appear nowhere
        TWEETLAKE_LEASE_WAIT="30",
    )
    try:
        yield load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def silver_ids(settings: Settings) -> list[str]:
    from tests.fixtures_lake import query

    return [
        r[0]
        for r in query(
            settings, f"select tweet_id from read_parquet('{settings.lake}/silver/tweets/**/*.parquet')"
        )
    ]


def bronze_ids(lake: Lake) -> set[str]:
    """Every tweet id bronze holds (collected, or an expansion of one): silver.tweets' ground truth."""
    return {i for r in bronze(lake) for i in [*r.tweet_ids, *(t["id"] for t in r.expansions)]}


def lake_text(root: Path) -> str:
    """Every small text file the lake holds (quality records, state, reports), to look for secrets."""
    texts = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".txt", ".csv") and path.stat().st_size < 5e6:
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


# -- freshness ----------------------------------------------------------------------------------------------
STALE_DAY = date(2026, 11, 25)  # the last day the lake heard of; the scheduled run is days later


def test_a_scheduled_run_on_a_lake_whose_ingest_stopped_fails_freshness(
    airflow_env: Settings, webhook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bronze's newest tweets are of STALE_DAY; the scheduled run's ingest tasks end green but land nothing
    (``mark_success_pattern``: what an ingest that quietly stopped looks like). Before the fix the gate judged
    freshness at bronze's newest fetch, so such a lake never went stale; now it judges at the run's interval
    end and fails after TWEETLAKE_QUALITY_MAX_AGE_HOURS, naming the table and its newest tweet."""
    settings = airflow_env
    lake = Lake.from_settings(settings)
    steps.run_ingest(settings, "sample", tweets=60, days=1, end_date=STALE_DAY)
    os.environ["TWEETLAKE_QUALITY_MAX_AGE_HOURS"] = "72"
    os.environ["AIRFLOW_CONN_TWEETLAKE_ALERTS"] = json.dumps({"conn_type": "http", "password": webhook.url})
    bronze_before = sorted(lake.walk_files("bronze"))
    # the latest hourly interval that ended (what the scheduler runs now)
    interval_end = pendulum.now("UTC").start_of("hour")

    run = load_dag().test(
        logical_date=interval_end,
        run_conf={"source": "sample", "sample_tweets": 60},
        mark_success_pattern="ingest",
    )
    assert str(run.state) == "failed"
    states = task_states(run.run_id)
    assert states["build_silver"] == [("success", 1)]
    assert states["validate_silver"] == [("failed", 1)], "a stale lake is a quality failure: no retry"
    for task_id in ("build_gold", "validate_gold", "publish", "report"):
        assert states[task_id] == [("upstream_failed", 0)], (task_id, states)
    assert not lake.exists(PUBLISHED), "nothing published"
    assert sorted(lake.walk_files("bronze")) == bronze_before, "the run's ingest landed nothing"
    assert sorted(silver_ids(settings)) == sorted(bronze_ids(lake)), "silver holds bronze, once each"

    [alert] = webhook.posts
    text = alert["text"]
    assert "tweetlake_refresh.validate_silver failed" in text
    assert "silver.tweets" in text and "expect_column_max_to_be_between" in text
    assert "stale: the newest created_at in silver.tweets is 2026-11-25T" in text, text
    assert "TWEETLAKE_QUALITY_MAX_AGE_HOURS=72" in text and "Check that ingest still lands tweets" in text
    assert f"reference time {interval_end.strftime('%Y-%m-%dT%H:%M:%S')}" in text, text
    assert "data interval end" in text
    assert SECRET not in text and SECRET not in lake_text(Path(settings.lake))

    # The CLI outside Airflow, as documented: judged at bronze's newest fetch by default (a lake is as fresh
    # as the last time it heard from the API: passes), `--as-of now` judges at now (fails, same message),
    # an explicit time in the lake's days passes.
    def validate(*extra: str) -> tuple[int, str]:
        code = cli.main(["validate", "--layer", "silver", "--lake", settings.lake, *extra])
        out = capsys.readouterr()
        return code, out.out + out.err

    code, said = validate()
    assert code == 0, said
    assert "from newest fetched_at in bronze" in said
    code, said = validate("--as-of", "now")
    assert code != 0
    assert "stale: the newest created_at in silver.tweets is 2026-11-25T" in said, said
    assert "(as_of setting)" in said and "TWEETLAKE_QUALITY_MAX_AGE_HOURS=72" in said
    code, said = validate("--as-of", "2026-11-26T12:00:00Z")
    assert code == 0, said
    code, said = validate("--as-of", "yesterday")
    assert code == 2 and "is not an ISO 8601 time" in said, said
    assert SECRET not in said
