"""A real Airflow for tests: a temporary AIRFLOW_HOME with a migrated metadata DB, DAGS_FOLDER = dags/.

The environment is set when this plugin is imported (before any test imports Airflow, which reads its
configuration once), and the metadata DB is migrated once per session, on first use, with the pool the DAG's
lake tasks share (``tweetlake_lake``, 1 slot), as ``orchestration/run_airflow.sh`` creates it.

Also here: a webhook receiver (a real HTTP server on 127.0.0.1 that records what is POSTed to it).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from foundation.settings import REPO_ROOT

AIRFLOW_HOME = tempfile.mkdtemp(prefix="tweetlake-airflow-")
AIRFLOW_ENV = {
    "AIRFLOW_HOME": AIRFLOW_HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": f"{AIRFLOW_HOME}/logs",
}
os.environ.update(AIRFLOW_ENV)
atexit.register(shutil.rmtree, AIRFLOW_HOME, True)  # also when no test used the DB

POOL = "tweetlake_lake"


def airflow_cli() -> str:
    return str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[str]:
    """Migrate the temporary metadata DB once and create the lake pool; yields AIRFLOW_HOME."""
    env = {**os.environ, **AIRFLOW_ENV}
    done = subprocess.run(
        [airflow_cli(), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pool = subprocess.run(
        [airflow_cli(), "pools", "set", POOL, "1", "tweetlake: one writer per lake (DuckDB)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pool.returncode == 0, pool.stderr[-3000:]
    yield AIRFLOW_HOME
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@dataclass
class WebhookReceiver:
    """What a local webhook endpoint received: one JSON body per POST."""

    url: str
    posts: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 (a free port) recording every POSTed JSON body."""
    received = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                received.posts.append(json.loads(body))
            except json.JSONDecodeError:
                received.posts.append({"_raw": body.decode("utf-8", "replace")})
            received.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tweetlake"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()
