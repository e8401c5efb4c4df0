"""Lake fixtures: a local lake folder, and a real S3 API (moto in server mode on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads the developer's settings or writes the repo's work folder; no real AWS keys."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("TWEETLAKE_", "AWS_", "TWITTER_")):
            del os.environ[name]
    os.environ["TWEETLAKE_WORK_DIR"] = str(tmp_path_factory.mktemp("work"))
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    # Dummy credentials for the moto server; the standard AWS chain picks them up like real ones.
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3 API on 127.0.0.1 (moto server mode) for the whole session; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def query(settings: Settings, sql: str) -> list[tuple]:
    """Run SQL on a fresh DuckDB connection that can read the lake (local or S3)."""
    import duckdb

    con = duckdb.connect()
    Lake.from_settings(settings).register_with(con)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def make_bucket(endpoint: str) -> str:
    import boto3

    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_settings(moto_server: str) -> Settings:
    """Settings for a lake at s3://<fresh bucket>/lake on the moto server."""
    bucket = make_bucket(moto_server)
    return load_settings({"TWEETLAKE_LAKE": f"s3://{bucket}/lake", "TWEETLAKE_S3_ENDPOINT": moto_server})


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return load_settings({"TWEETLAKE_LAKE": str(tmp_path / "lake")})


@pytest.fixture(params=["local", "s3"])
def lake_settings(request: pytest.FixtureRequest) -> Settings:
    """The same test on a local lake and on S3."""
    name = "local_settings" if request.param == "local" else "s3_settings"
    return request.getfixturevalue(name)
