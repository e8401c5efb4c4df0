"""Faults under Airflow (issue 17): freshness of scheduled runs; a task killed and retried from another work
dir; a backfill of two intervals while a manual run is triggered.

Each case checks what the matrix asks of every fault: no tweet lost or duplicated (silver against bronze, read
back independently by ``tests.bronze_reader``), a message naming what failed and what to do, and no secret in
what the run wrote. Airflow runs cost minutes each, so each case is one Airflow session with many assertions.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests

from foundation.lake import Lake
from foundation.layout import PUBLISHED
from foundation.settings import Settings, load_settings
from pipeline import cli, steps
from tests.bronze_reader import bronze
from tests.faults.test_process_kills import gold_rows, silver_rows
from tests.fixtures_airflow import WebhookReceiver
from tests.fixtures_lake import free_port
from tests.test_airflow_runs import load_dag, task_states
from tests.test_airflow_scheduler import SCRIPT, LocalAirflow

pytestmark = pytest.mark.slow

SECRET = "AAAAfaults-airflow-bearer-token-never-shown"


@pytest.fixture
def airflow_env(tmp_path: Path, airflow_db: str) -> Iterator[Settings]:
    """A local lake and work dir for tasks run in this process (``dag.test()``); os.environ put back after."""
    saved = dict(os.environ)
    _forget_active_assets()
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


def _forget_active_assets() -> None:
    """This worker's metadata DB may hold the DAG's assets for another test's lake (same names, other
    URIs): Airflow would then keep this lake's assets inactive and fail the tasks that emit them."""
    from airflow.models.asset import AssetActive
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(AssetActive).delete()


def silver_ids(settings: Settings) -> list[str]:
    from tests.fixtures_lake import query

    return [
        r[0]
        for r in query(
            settings,
            f"select tweet_id from read_parquet('{settings.lake}/_staging/silver/tweets/**/*.parquet')",
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


# -- a killed task retried elsewhere, and a backfill beside a manual run, under a real scheduler -------------
KILLPOINT = Path(__file__).parent / "killpoint"
# dbt's third file move while installing silver: silver half replaced when the build task's process group
# (task runner and dbt; Airflow gives each task its own) is SIGKILLed, as an OOM kill or a lost worker would
KILL_AT = "foundation.lakefiles:_put:3"
CONF = {"source": "sample", "sample_tweets": 40, "sample_days": 1}
BACKFILL_DAYS = ("2026-11-28", "2026-11-29")  # two intervals: enough to run beside each other
WRITERS = ("build_silver", "validate_silver", "build_gold", "validate_gold", "publish")


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[LocalAirflow]:
    """``run_airflow.sh`` (a daily schedule, a local lake) with the kill point armed once in every process."""
    port = free_port()
    home = tmp_path / "airflow-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "TWEETLAKE_"))}
    env.update(
        TWEETLAKE_AIRFLOW_HOME=str(home),
        TWEETLAKE_AIRFLOW_PORT=str(port),
        TWEETLAKE_LAKE=str(tmp_path / "lake"),
        TWEETLAKE_WORK_DIR=str(tmp_path / "work-1"),
        TWEETLAKE_SCHEDULE="@daily",
        TWEETLAKE_RETRY_DELAY_SECONDS="3",
        TWEETLAKE_LEASE_WAIT="600",  # writers queue on the lease for as long as the others take
        TWITTER_BEARER_TOKEN=SECRET,
        TWEETLAKE_TEST_KILL_AT=KILL_AT,
        TWEETLAKE_TEST_KILL_ONCE="1",
        TWEETLAKE_TEST_KILL_MARK=str(tmp_path / "killed"),
        TWEETLAKE_TEST_WORK_DIR_AFTER_KILL=str(tmp_path / "work-2"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(KILLPOINT), os.environ.get("PYTHONPATH")])),
    )
    log = tmp_path / "run_airflow.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    pgid_file = home / "run_airflow.pgid"
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "Airflow did not start in 4 min:\n" + log.read_text()[-4000:]
            with contextlib.suppress(requests.RequestException):  # a slow start times out too
                if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok and pgid_file.exists():
                    break
            time.sleep(1)
        yield LocalAirflow(url, home, env, int(pgid_file.read_text()), log)
    finally:
        # as tests/test_airflow_scheduler.py: the script's clean stop, then only what this test started
        pgid = int(pgid_file.read_text()) if pgid_file.exists() else None
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=120, capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for group in {pgid, proc.pid} - {None}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def test_a_backfill_beside_a_manual_run_with_a_build_killed_and_retried_elsewhere(
    scheduler: LocalAirflow, tmp_path: Path
) -> None:
    """Two backfill intervals and a manual run at once; the first build to install silver is SIGKILLed
    and its retry runs in another work dir (another worker). Every run succeeds, no two lake writers ever
    overlap, silver holds every tweet of bronze once, published gold equals a clean build of that bronze."""
    url = scheduler.url
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {scheduler.token()}"
    deadline = time.monotonic() + 120
    while api.get(f"{url}/api/v2/dags/tweetlake_refresh", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the DAG processor did not parse the DAG"
        time.sleep(1)
    backfill = api.post(
        f"{url}/api/v2/backfills",
        json={
            "dag_id": "tweetlake_refresh",
            "from_date": f"{BACKFILL_DAYS[0]}T00:00:00Z",
            "to_date": f"{BACKFILL_DAYS[-1]}T00:00:00Z",
            "dag_run_conf": CONF,
            "max_active_runs": 2,
        },
        timeout=30,
    )
    assert backfill.status_code == 200, backfill.text
    manual = api.post(
        f"{url}/api/v2/dags/tweetlake_refresh/dagRuns", json={"logical_date": None, "conf": CONF}, timeout=30
    )
    assert manual.status_code == 200, manual.text
    answer = api.patch(f"{url}/api/v2/dags/tweetlake_refresh", json={"is_paused": False}, timeout=30)
    assert answer.status_code == 200, answer.text

    started = time.monotonic()
    deadline = started + 900
    while True:
        runs = api.get(f"{url}/api/v2/dags/tweetlake_refresh/dagRuns", timeout=30).json()["dag_runs"]
        if len(runs) >= 3 and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"]) for r in runs]
        time.sleep(3)
    print(f"\n{len(runs)} runs finished {time.monotonic() - started:.0f}s after the trigger")

    tis = []
    for run in runs:
        got = api.get(
            f"{url}/api/v2/dags/tweetlake_refresh/dagRuns/{run['dag_run_id']}/taskInstances", timeout=30
        ).json()["task_instances"]
        tis += got
    outcome = {r["dag_run_id"]: (r["run_type"], r["state"]) for r in runs}
    assert all(state == "success" for _, state in outcome.values()), (
        outcome,
        [
            (t["dag_run_id"], t["task_id"], t["state"], t["try_number"])
            for t in tis
            if t["state"] != "success"
        ],
    )
    kinds = sorted(kind for kind, _ in outcome.values())
    assert kinds.count("backfill") == 2 and "manual" in kinds, kinds  # (a scheduled run may join them)

    # The kill happened, once, in a build; its retry (another work dir) took over the dead task's lease at
    # once (its pid is gone on this host), not after TWEETLAKE_LEASE_TTL.
    assert (tmp_path / "killed").read_text() == KILL_AT
    retried = [t for t in tis if t["try_number"] > 1]
    assert [t["task_id"] for t in retried] in (["build_silver"], ["build_gold"]), retried
    # Whichever writer got the pool slot next (the retry, or another run's build during the retry delay)
    # took the dead build's lease over within seconds of its last heartbeat, well inside the TTL.
    takeovers = [e for e in task_log_events(scheduler.home) if "took over the lake's lease" in e["event"]]
    assert takeovers, "nobody took over the dead build's lease"
    [(since, taken)] = [
        (pendulum.parse(re.search(r"since (\S+)", e["event"])[1]), pendulum.parse(e["timestamp"]))
        for e in takeovers
    ]
    assert (taken - since).total_seconds() < 60, takeovers  # TWEETLAKE_LEASE_TTL is 120 s
    assert list((tmp_path / "work-2").glob("lake-*")), "the retry worked in the other work dir"

    # One writer at a time: the lake tasks of the runs never overlap (the pool, and under it the lease).
    spans = sorted(
        (pendulum.parse(t["start_date"]), pendulum.parse(t["end_date"]), t["dag_run_id"], t["task_id"])
        for t in tis
        if t["task_id"] in WRITERS
    )
    for before, after in zip(spans, spans[1:], strict=False):
        assert after[0] >= before[1], (before, after)

    # Every interval's tweets, once: silver against bronze; gold against a clean build of the same bronze.
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path / "lake")})
    lake = Lake.from_settings(settings)
    days = {p.split("ingest_date=")[1][:10] for p in lake.walk_files("bronze")}
    assert set(BACKFILL_DAYS) <= days and len(days) >= 3, days
    ids = silver_ids(settings)
    assert len(ids) == len(set(ids)) and set(ids) == bronze_ids(lake)
    clean = clean_lake(lake, tmp_path / "clean")
    for table in ("tweets", "users"):
        assert silver_rows(lake, table) == silver_rows(Lake(clean.lake), table), table
    published = json.loads(lake.read_bytes(PUBLISHED))["tables"]
    assert published == json.loads(Lake(clean.lake).read_bytes(PUBLISHED))["tables"]
    for table in published:
        assert gold_rows(lake, table) == gold_rows(Lake(clean.lake), table), table
    assert not lake.exists("_state/lease.json"), "the last writer released the lease"
    logs_text = "".join(p.read_text(errors="replace") for p in (scheduler.home / "logs").rglob("*.log"))
    assert SECRET not in logs_text and SECRET not in lake_text(tmp_path / "lake")


def task_log_events(home: Path) -> list[dict[str, Any]]:
    """Every record of every task log (JSON lines) of the refresh DAG."""
    events = []
    for path in (home / "logs" / "dag_id=tweetlake_refresh").rglob("attempt=*.log"):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                events.append({"event": str(record.get("event", "")), "timestamp": record.get("timestamp")})
    return events


def clean_lake(lake: Lake, root: Path) -> Settings:
    """A clean CLI build, validate and publish of a copy of ``lake``'s bronze: what the lake must equal."""
    shutil.copytree(Path(lake.root) / "bronze", root / "lake" / "bronze")
    settings = load_settings({"TWEETLAKE_LAKE": str(root / "lake")})
    steps.run_build(settings)
    steps.run_validate(settings, run_at="now")
    steps.run_publish(settings)
    return settings
