"""The refresh DAG under a real Airflow: ``orchestration/run_airflow.sh`` (what ``make airflow`` runs) starts
the API server, scheduler and DAG processor on 127.0.0.1; a run is triggered through the REST API
(``/api/v2``, JWT from ``/auth/token``), the scheduler runs it with the LocalExecutor, the gold asset
triggers the consumer DAG, and ``run_airflow.sh stop`` stops every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from foundation.lake import Lake
from foundation.settings import REPO_ROOT, load_settings
from tests.fixtures_lake import free_port, make_bucket

SCRIPT = REPO_ROOT / "orchestration" / "run_airflow.sh"


@dataclass
class LocalAirflow:
    url: str
    home: Path
    env: dict[str, str]
    pgid: int
    log: Path

    def token(self) -> str:
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        answer = requests.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": passwords["admin"]}, timeout=30
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["access_token"]


def group_pids(pgid: int) -> list[int]:
    """Live processes of the group (zombies are dead, waiting for their parent to collect them)."""
    pids = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                pids.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            out.append(f"{pid} {proc.status()} {' '.join(proc.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            continue
    return out


def listening_addresses(pgid: int) -> set[tuple[str, int]]:
    found = set()
    for pid in group_pids(pgid):
        try:
            for conn in psutil.Process(pid).net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def local_airflow(tmp_path: Path, moto_server: str) -> Iterator[LocalAirflow]:
    """``run_airflow.sh`` in a fresh AIRFLOW_HOME on a free port, S3 from the aws_default connection."""
    port = free_port()
    home = tmp_path / "airflow-home"
    bucket = make_bucket(moto_server)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_", "TWEETLAKE_S3"))}
    env.update(
        TWEETLAKE_AIRFLOW_HOME=str(home),
        TWEETLAKE_AIRFLOW_PORT=str(port),
        TWEETLAKE_LAKE=f"s3://{bucket}/lake",
        TWEETLAKE_SCHEDULE="none",  # only the run this test triggers (with its data interval)
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(
            {
                "conn_type": "aws",
                "login": "lake-key",
                "password": "lake-secret",
                "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"},
            }
        ),
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
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok and pgid_file.exists():
                    break
            except requests.ConnectionError:
                pass
            time.sleep(1)
        yield LocalAirflow(url, home, env, int(pgid_file.read_text()), log)
    finally:
        pgid = int(pgid_file.read_text()) if pgid_file.exists() else None
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=120, capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for group in {pgid, proc.pid} - {None}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)  # only if something survived the clean stop


def wait_for_run(api: requests.Session, url: str, dag_id: str, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", timeout=30).json()
        if run.get("state") in ("success", "failed"):
            return run
        time.sleep(2)
    raise AssertionError(f"{dag_id} run {run_id} did not finish in {timeout:.0f}s")


@pytest.mark.slow
def test_scheduler_runs_a_refresh_triggered_through_the_rest_api(local_airflow: LocalAirflow) -> None:
    url = local_airflow.url
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {local_airflow.token()}"
    assert api.get(f"{url}/api/v2/dags", timeout=30).status_code == 200
    assert requests.get(f"{url}/api/v2/dags", timeout=30).status_code == 401, "the API needs a token"

    # Only 127.0.0.1: the API server; no log server (skipped), no health server.
    addresses = listening_addresses(local_airflow.pgid)
    assert addresses and all(ip == "127.0.0.1" for ip, _ in addresses), addresses
    assert api.get(f"{url}/api/v2/pools/tweetlake_lake", timeout=30).json()["slots"] == 1

    deadline = time.monotonic() + 120
    while api.get(f"{url}/api/v2/dags/tweetlake_gold_consumer", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the DAG processor did not parse the DAGs"
        time.sleep(1)
    for dag_id in ("tweetlake_refresh", "tweetlake_gold_consumer"):
        answer = api.patch(f"{url}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=30)
        assert answer.status_code == 200, answer.text

    started = time.monotonic()
    answer = api.post(
        f"{url}/api/v2/dags/tweetlake_refresh/dagRuns",
        json={
            "logical_date": "2026-11-20T14:00:00Z",
            "data_interval_start": "2026-11-20T13:00:00Z",
            "data_interval_end": "2026-11-20T14:00:00Z",
            "conf": {"source": "sample", "sample_tweets": 600, "sample_days": 1},
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["dag_run_id"]
    run = wait_for_run(api, url, "tweetlake_refresh", run_id, timeout=420)
    seconds = time.monotonic() - started
    tis = api.get(f"{url}/api/v2/dags/tweetlake_refresh/dagRuns/{run_id}/taskInstances", timeout=30).json()
    states = {(t["task_id"], t["map_index"]): t["state"] for t in tis["task_instances"]}
    assert run["state"] == "success", states
    assert run["data_interval_start"].startswith("2026-11-20T13:00:00")
    assert len([k for k in states if k[0] == "ingest"]) == 3
    print(f"\nscheduler: tweetlake_refresh run {run_id} took {seconds:.1f}s from trigger to success")

    lake = Lake.from_settings(
        load_settings(
            {
                "TWEETLAKE_LAKE": local_airflow.env["TWEETLAKE_LAKE"],
                "TWEETLAKE_S3_ENDPOINT": _endpoint(local_airflow),
            }
        )
    )
    assert lake.read_json("gold/_published.json")["tables"]["tweets_export"] == 600

    # The gold asset event triggers the consumer DAG.
    deadline = time.monotonic() + 120
    while True:
        runs = api.get(f"{url}/api/v2/dags/tweetlake_gold_consumer/dagRuns", timeout=30).json()["dag_runs"]
        if runs and runs[0]["state"] in ("success", "failed"):
            break
        assert time.monotonic() < deadline, "the gold asset did not trigger the consumer"
        time.sleep(2)
    assert runs[0]["state"] == "success" and runs[0]["run_type"] == "asset_triggered"

    # Stopping: every process of the group ends.
    pgid = local_airflow.pgid
    stopping = time.monotonic()
    done = subprocess.run(
        [str(SCRIPT), "stop"], env=local_airflow.env, timeout=120, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    while group_pids(pgid) and time.monotonic() - stopping < 45:
        time.sleep(0.5)
    print(f"scheduler: run_airflow.sh stop took {time.monotonic() - stopping:.1f}s {done.stderr.strip()}")
    assert group_pids(pgid) == [], describe(group_pids(pgid))


def _endpoint(airflow: LocalAirflow) -> str:
    return json.loads(airflow.env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"]
