"""A real Airflow for tests: a temporary AIRFLOW_HOME with a migrated metadata DB, DAGS_FOLDER = dags/.

The environment is set when this plugin is imported (before any test imports Airflow, which reads its
configuration once), and the metadata DB is migrated once per session, on first use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.config import REPO_ROOT

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


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[str]:
    """Migrate the temporary metadata DB once; yields AIRFLOW_HOME."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, **AIRFLOW_ENV}
    done = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    yield AIRFLOW_HOME
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
