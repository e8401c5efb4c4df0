"""Security faults (issue 17): secrets never show, servers stay on loopback, names cannot escape the lake,
and ``tweetlake report --serve`` serves the report and nothing else.

Real components where a user meets them: the ``tweetlake`` CLI in a subprocess at ``-v`` (DEBUG logging) with
canary secrets in its environment, tweepy over HTTP to the fake API v2, a moto S3 server that checks
credentials, the report server over HTTP, ``run_airflow.sh`` with a stub ``airflow``. (The in-process side
of the token, through ``ingest()`` at DEBUG, is ``tests/test_ingest_api.py::test_the_token_never_reaches_
bronze_errors_reprs_or_logs``; Airflow task logs are not checked here: ``dag.test()`` costs a minute.)
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
import requests

from foundation.lake import Lake
from foundation.settings import REPO_ROOT, ConfigError, Secret, Settings
from tests.fake_twitter.server import FakeTwitter, make_tweets
from tests.fixtures_lake import free_port

HEX = uuid.uuid4().hex
TOKEN = f"AAAAAAAAAAAAAAAAAAAAACanaryBearer{HEX}"
AWS_KEY_ID = f"AKIACANARY{HEX[:10].upper()}"
AWS_SECRET = f"CanaryAwsSecret/{HEX}+x"
QUERY = "#duckdb lang:en"

# The CLI as a user runs it, with one seam: tweepy's requests (hard-wired to https://api.twitter.com) go to
# the fake API. FAKE_CRASH makes the transport fail with the request's headers in its message, as
# libraries do (requests' InvalidHeader quotes the header value): a crash that carries the token.
WRAPPER = """
import os, sys
from ingestion.sources import api
from tests.fake_twitter.fixtures import API_HOST, RewriteAdapter

class Adapter(RewriteAdapter):
    def send(self, request, **kwargs):
        if os.environ.get("FAKE_CRASH"):
            raise RuntimeError(f"proxy refused {request.method} {request.url} with headers {request.headers}")
        return super().send(request, **kwargs)

original = api.with_timeout
def pointed(session, timeout):
    session.trust_env = False
    session.mount(API_HOST, Adapter(sys.argv[1]))
    return original(session, timeout)
api.with_timeout = pointed
from pipeline.cli import main
sys.exit(main(sys.argv[2:]))
"""


def cli_env(lake: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWEETLAKE_", "TWITTER_", "AWS_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        TWEETLAKE_LAKE=lake,
        TWEETLAKE_WORK_DIR=os.environ["TWEETLAKE_WORK_DIR"],
        TWEETLAKE_QUERIES=QUERY,
        TWEETLAKE_ACCOUNTS="",
        TWEETLAKE_REQUEST_TIMEOUT="5",
        TWITTER_BEARER_TOKEN=TOKEN,
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        AWS_DEFAULT_REGION="us-east-1",
    )
    env.update(extra)
    return env


def tweetlake(api_url: str, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, api_url, *argv],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def secrets_in(text: str | bytes, secrets: tuple[str, ...]) -> list[str]:
    """Which secrets (or a distinctive piece of one: a half, as a line break would split it) show."""
    data = text.encode() if isinstance(text, str) else text
    pieces = {p for s in secrets for p in (s, s[: len(s) // 2], s[len(s) // 2 :]) if len(p) >= 8}
    return sorted(p for p in pieces if p.encode() in data)


def tree_bytes(root: Path) -> bytes:
    """Every file below ``root``, names and contents (a secret in a file name counts too)."""
    if not root.exists():
        return b""
    return b"\n".join(
        p.as_posix().encode() + b"\n" + (p.read_bytes() if p.is_file() else b"") for p in root.rglob("*")
    )


# -- 1. secrets ---------------------------------------------------------------------------------------------
def _no_fault(fake: FakeTwitter) -> None:
    fake.token = TOKEN


def _forbidden(fake: FakeTwitter) -> None:
    fake.token = TOKEN
    fake.fail(403, times=-1)


SCENARIOS = {
    # scenario: (what the fake does, extra env, what the message must say)
    "401 wrong token": (lambda fake: None, {}, ("401 Unauthorized", "TWITTER_BEARER_TOKEN")),
    "403 access tier": (_forbidden, {}, ("403 Forbidden", "Basic access")),
    "crash quoting headers": (_no_fault, {"FAKE_CRASH": "1"}, ("RuntimeError",)),
    "token with a line break": (
        _no_fault,
        {"TWITTER_BEARER_TOKEN": TOKEN[:40] + "\n" + TOKEN[40:]},
        ("TWITTER_BEARER_TOKEN", "line break"),
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_token_never_shows_in_a_failing_cli_run_at_debug(
    scenario: str, tmp_path: Path, fake_twitter: FakeTwitter
) -> None:
    setup, extra, says = SCENARIOS[scenario]
    fake_twitter.search[QUERY] = make_tweets(30, datetime.now(UTC) - timedelta(hours=1))
    setup(fake_twitter)
    lake = tmp_path / "lake"
    done = tweetlake(fake_twitter.base_url, cli_env(str(lake), **extra), "-v", "ingest", "--source", "api")
    output = done.stdout + done.stderr
    # a token no request can carry is a configuration error (2); the others failed at the API (1)
    assert done.returncode == (2 if scenario == "token with a line break" else 1), output[-3000:]
    for words in says:
        assert words in done.stderr, done.stderr[-3000:]
    refused_early = scenario == "token with a line break"  # refused before any request or log line
    assert refused_early or "DEBUG" in done.stderr, "the run logged at DEBUG (tweepy logs headers there)"
    secrets = (TOKEN, AWS_SECRET, AWS_KEY_ID)
    assert secrets_in(output, secrets) == [], output[-3000:]
    assert secrets_in(tree_bytes(lake), secrets) == []
    if not refused_early:
        assert fake_twitter.requests or scenario == "crash quoting headers", "the API was really called"


def test_an_exception_carrying_the_token_is_redacted_before_it_leaves_the_api_source(
    tmp_path: Path, fake_twitter: FakeTwitter, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process: what the caller holds (the exception, its chain, its traceback) has no token."""
    from ingestion.ingest import ingest
    from ingestion.sources import make_source
    from tests.fake_twitter.fixtures import API_HOST, RewriteAdapter

    class Crashing(RewriteAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
            raise RuntimeError(f"proxy refused {request.url} with headers {request.headers}")

    caplog.set_level("DEBUG")
    session = requests.Session()
    session.mount(API_HOST, Crashing(fake_twitter.base_url))
    settings = Settings(
        lake=str(tmp_path / "lake"), queries=(QUERY,), accounts=(), bearer_token=Secret(TOKEN)
    )
    source = make_source("api", settings, session=session, sleep=lambda _: None)
    with pytest.raises(Exception) as failure:
        ingest(source, Lake(settings.lake))
    told = "".join(traceback.format_exception(failure.value)) + repr(failure.value) + caplog.text
    assert "RuntimeError" in told and "proxy refused" in told, "the failure still says what happened"
    assert secrets_in(told, (TOKEN,)) == [], told[-3000:]


@pytest.mark.parametrize("verbose", [False, True])
def test_any_crash_quoting_a_secret_prints_redacted(
    verbose: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The CLI's last line of defence: whatever raised, its message (and the ``-v`` traceback) is redacted."""
    from pipeline import cli, steps

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError(f"s3 said no to {AWS_KEY_ID}:{AWS_SECRET} (token {TOKEN})")

    for name, value in (("TWITTER_BEARER_TOKEN", TOKEN), ("AWS_SECRET_ACCESS_KEY", AWS_SECRET)):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setattr(steps, "run_publish", crash)
    code = cli.main([*(["-v"] if verbose else []), "publish", "--lake", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert "RuntimeError: s3 said no to ********:******** (token ********)" in err, err
    assert ("Traceback" in err) == verbose
    assert secrets_in(err, (TOKEN, AWS_SECRET, AWS_KEY_ID)) == []


@pytest.fixture
def s3_with_auth() -> Iterator[str]:
    """A moto S3 server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0): unknown keys get 403."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
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
            assert proc.poll() is None and time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)


def test_aws_keys_never_show_when_s3_refuses_them_at_debug(
    s3_with_auth: str, fake_twitter: FakeTwitter
) -> None:
    env = cli_env("s3://tweetlake-canary/lake", TWEETLAKE_S3_ENDPOINT=s3_with_auth)
    done = tweetlake(fake_twitter.base_url, env, "-v", "ingest", "--source", "sample", "--tweets", "20")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "access to S3 bucket 'tweetlake-canary' denied" in done.stderr, done.stderr[-3000:]
    assert "AWS credentials" in done.stderr
    assert "DEBUG" in done.stderr and "botocore" in done.stderr, "botocore logged its requests at DEBUG"
    assert secrets_in(output, (AWS_SECRET, AWS_KEY_ID, TOKEN)) == [], output[-3000:]


# -- 2. servers bind 127.0.0.1 ------------------------------------------------------------------------------
def listening(port: int) -> list[str]:
    return sorted(
        c.laddr.ip for c in psutil.net_connections("inet") if c.status == "LISTEN" and c.laddr.port == port
    )


def test_test_servers_listen_on_loopback_only(moto_server: str, fake_twitter: FakeTwitter, webhook) -> None:  # noqa: ANN001
    for url in (moto_server, fake_twitter.base_url, webhook.url):
        port = int(url.split(":")[2].split("/")[0])
        assert listening(port) == ["127.0.0.1"], url


def test_run_airflow_binds_every_server_to_loopback(tmp_path: Path) -> None:
    """``run_airflow.sh`` with a stub ``airflow`` that records each command and the settings it saw."""
    stub = tmp_path / "bin"
    stub.mkdir()
    calls = tmp_path / "calls.jsonl"
    record = (
        "import json, os, sys; "
        f"open({str(calls)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:], "
        "'env': {k: v for k, v in os.environ.items() if k.startswith(('AIRFLOW__', 'TWEETLAKE_'))}}) + '\\n')"
    )
    (stub / "airflow").write_text(f'#!/bin/sh\nexec {sys.executable} -c "{record}" "$@"\n')
    (stub / "python").write_text("#!/bin/sh\nexit 1\n")  # the health check: never up, the stubs just exit
    for f in ("airflow", "python"):
        (stub / f).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "TWEETLAKE_"))}
    env.update(TWEETLAKE_BIN=str(stub), TWEETLAKE_AIRFLOW_HOME=str(tmp_path / "home"))
    env["TWEETLAKE_WORK_DIR"] = str(tmp_path / "work")
    done = subprocess.run(
        [str(REPO_ROOT / "orchestration" / "run_airflow.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "exited during startup" in done.stderr, done.stdout + done.stderr
    commands = [json.loads(line) for line in calls.read_text().splitlines()]
    started = {c["argv"][0]: c for c in commands}
    assert {"api-server", "scheduler", "dag-processor"} <= set(started)
    api = started["api-server"]["argv"]
    assert api[api.index("--host") + 1] == "127.0.0.1"
    assert "--skip-serve-logs" in started["scheduler"]["argv"], "the log server would bind every interface"
    for command in commands:
        env_seen = command["env"]
        assert env_seen["AIRFLOW__API__HOST"] == "127.0.0.1"
        assert env_seen["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "127.0.0.1"
        assert "0.0.0.0" not in json.dumps(command)


# -- 3. names cannot escape the lake ------------------------------------------------------------------------
HOSTILE = [
    "../../escape",
    "/etc/passwd",
    "..",
    "a/../../b",
    "nul\x00byte",
    "x" * 600,
    "\x1b[31mred",
    "..\\..\\w",
]


def safe_names(root: Path) -> list[str]:
    """Paths below ``root`` with a component outside [A-Za-z0-9=._-], longer than 200 bytes, or a dot-dot."""
    bad = []
    for path in root.rglob("*"):
        for part in path.relative_to(root).parts:
            if (
                part in ("..", ".")
                or len(part.encode()) > 200
                or not all(c.isalnum() or c in "=._-" for c in part)
            ):
                bad.append(str(path.relative_to(root)))
    return bad


def test_hostile_stream_names_and_replay_files_stay_inside_the_lake(tmp_path: Path) -> None:
    from ingestion.ingest import ingest
    from ingestion.sources import make_source

    outer = tmp_path / "outer"
    lake_dir = outer / "lake"
    outer.mkdir()
    (outer / "keep.txt").write_text("neighbour")
    replay = tmp_path / "replay"
    # Folder names become streams: odd characters and 250-character names (a file system allows 255).
    for name in ("..hidden..", "x" * 250, "\x1b[31mred", "..\\..\\w", "a b;c|d"):
        folder = replay / name
        folder.mkdir(parents=True)
        (folder / "page.json").write_text(json.dumps({"data": [{"id": "1", "text": "hi"}], "meta": {}}))
    # twarc archive lines name their stream by the recorded URL: a query and a user path that try to escape
    lines = []
    for i, query in enumerate(HOSTILE):
        url = "https://api.twitter.com/2/tweets/search/recent?" + requests.compat.urlencode({"query": query})
        lines.append({"data": [{"id": str(100 + i), "text": "t"}], "meta": {}, "__twarc": {"url": url}})
    lines.append(
        {"data": [{"id": "9", "text": "t"}], "__twarc": {"url": "https://api.twitter.com/2/users/../../x"}}
    )
    (replay / ("y" * 240 + ".jsonl")).write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    before = sorted(p.name for p in outer.iterdir())
    lake = Lake(str(lake_dir))

    hostile_accounts = Settings(lake=str(lake_dir), accounts=("../../acct", "/abs", "a\x00b", "x" * 300))
    with pytest.raises(ConfigError, match="not Twitter usernames"):  # refused by name, before any write
        make_source("sample", hostile_accounts)
    settings = Settings(lake=str(lake_dir), queries=tuple(HOSTILE), accounts=("duckdb",))
    sample = ingest(make_source("sample", settings, tweets=60, days=1), lake)
    assert sample.tweets == 60
    replayed = ingest(make_source("replay", settings, path=str(replay)), lake, allow_mixed_sources=True)
    assert replayed.tweets == 5 + len(HOSTILE) + 1 and not replayed.problems

    assert sorted(p.name for p in outer.iterdir()) == sorted([*before, "lake"]), "nothing beside the lake"
    assert all(Path(os.path.realpath(p)).is_relative_to(lake_dir) for p in lake_dir.rglob("*"))
    assert safe_names(lake_dir) == [], "every key a plain, short, encoded name"
    # the exact stream text is kept where it belongs: in each page's envelope, not in a path
    streams = {json.loads(line)["envelope"]["stream"] for p in lake_dir.rglob("*.jsonl") for line in p.open()}
    assert set(HOSTILE) <= streams and "x" * 250 in streams


def test_a_run_key_that_is_a_path_is_refused(tmp_path: Path) -> None:
    from datetime import date

    from ingestion.bronze import BronzeRun

    lake = Lake(str(tmp_path / "lake"))
    for key in ("../../x", "/abs", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="plain file name"):
            BronzeRun(
                lake, source="replay", endpoint="replay", stream="s", run_key=key, ingest_date=date.today()
            )
    assert not (tmp_path / "lake").exists()


# -- 4. report --serve serves the report only ---------------------------------------------------------------
MARK = f"NOT-FOR-THE-WEB-{HEX}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """``tweetlake report --serve --port 0`` over a lake with a report, lake state, bronze and a neighbour;
    yields (port, server pid, lake)."""
    from expectations.report import write_index

    lake_dir = tmp_path / "lake"
    lake = Lake(str(lake_dir))
    write_index(lake)
    files = {
        "quality/docs/index.html": "<html>docs</html>",
        "quality/runs/r1.json": '{"report": {}}',
        "report/index.html": "<html>gold</html>",
        "report/.hidden": MARK,
        "quality/_state/validated.json": MARK,
        "quality/.tweetlake-marker": MARK,
        "_state/lease.json": MARK,
        "_state/watermarks/endpoint=search_recent/q.json": MARK,
        "bronze/source=api/endpoint=search_recent/stream=q-1/ingest_date=2026-11-20/r-00000.jsonl": MARK,
    }
    for rel, text in files.items():
        lake.write_bytes(rel, text.encode())
    (tmp_path / "neighbour.txt").write_text(MARK)
    # links inside the report folder that lead out of it (a copied site, a careless `ln -s`)
    os.symlink(lake_dir / "_state" / "lease.json", lake_dir / "quality" / "docs" / "lease.html")
    os.symlink(tmp_path, lake_dir / "quality" / "runs" / "up")
    proc = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv" / "bin" / "tweetlake"),
            "report",
            "--serve",
            "--port",
            "0",
            "--lake",
            str(lake_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "serving" not in line:
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stderr.read() if proc.stderr else ""
            )
            line = proc.stderr.readline() if proc.stderr else ""
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        yield port, proc.pid, lake_dir
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_s3_lakes_report_is_served_from_a_copy_of_the_report_only(s3_bucket) -> None:  # noqa: ANN001
    from expectations.report import local_quality_folder, write_index

    lake = s3_bucket.lake()
    write_index(lake)
    for rel in ("quality/docs/index.html", "quality/runs/r1.json", "quality/_state/bronze_ids.parquet"):
        lake.write_bytes(rel, MARK.encode())
    folder, cleanup = local_quality_folder(lake)
    try:
        copied = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
    finally:
        cleanup()
    charts = [f"static/charts/{name}" for name in ("vega-embed.min.js", "vega-lite.min.js", "vega.min.js")]
    expected = ["docs/index.html", "index.html", "runs/r1.json", *charts]
    assert copied == expected, "the validator's state stays in S3"
    assert not Path(folder).exists()


def get(port: int, path: str) -> tuple[int, bytes]:
    """A request with ``path`` sent as is (no client-side normalising of dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{port}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_report_server_listens_on_loopback_only(served: tuple[int, int, Path]) -> None:
    port, pid, _ = served
    ours = [c for c in psutil.Process(pid).net_connections("inet") if c.status == "LISTEN"]
    assert [(c.laddr.ip, c.laddr.port) for c in ours] == [("127.0.0.1", port)]
    with pytest.raises(OSError):  # nothing answers on the machine's other addresses
        other = socket.gethostbyname(socket.gethostname())
        if other.startswith("127."):
            raise OSError("no other address to try")
        socket.create_connection((other, port), timeout=2)


def test_report_server_serves_the_report_and_nothing_else(served: tuple[int, int, Path]) -> None:
    port, _, lake_dir = served
    # the lake root is served: the quality report under /quality/, the lake report under /report/
    for path in ("/quality/index.html", "/quality/docs/index.html", "/quality/runs/r1.json", "/report/"):
        status, body = get(port, path)
        assert status == 200 and MARK.encode() not in body, path
    status, _ = get(port, "/")
    assert status == 302  # to the quality index
    bronze = next(lake_dir.rglob("*.jsonl"))
    attempts = [
        "/../_state/lease.json",
        "/%2e%2e/_state/lease.json",
        "/%2E%2E/%2E%2E/neighbour.txt",
        "/..%2f_state%2flease.json",
        "/quality/docs/..%2f..%2f_state/lease.json",
        "/quality/docs/../../bronze",
        "//etc/passwd",
        "/etc/passwd",
        str(bronze),
        "/" + str(bronze.relative_to(lake_dir)),
        "/../" + str(bronze.relative_to(lake_dir)),
        "/bronze/",
        "/_state/lease.json",
        "/_state/watermarks/endpoint=search_recent/q.json",
        "/quality/_state/validated.json",
        "/quality/.tweetlake-marker",
        "/quality/docs/lease.html",
        "/quality/runs/up/neighbour.txt",
        "/quality/runs/",  # a folder without an index: no listing
        "/quality/runs/r1.json%00.html",
        "/report/.hidden",
        "/%00",
        "http://127.0.0.1/../_state/lease.json",
        "/quality/" + "a/" * 300 + "index.html",
    ]
    for path in attempts:
        status, body = get(port, path)
        assert status in (400, 403, 404), (path, status)
        assert MARK.encode() not in body and b"bronze" not in body, path
    assert get(port, "/quality/index.html")[0] == 200, "still serving after every attempt"


@pytest.mark.slow
def test_a_whole_refresh_at_debug_leaves_no_secret_in_the_lake_its_reports_or_dbt_logs(
    tmp_path: Path, fake_twitter: FakeTwitter
) -> None:
    """Secrets in the environment of a full refresh (dbt and Great Expectations subprocesses and logs, the
    report's HTML): none in the output, the lake (quality/ included) or the work folder (dbt's logs)."""
    lake, work = tmp_path / "lake", tmp_path / "work"
    env = cli_env(str(lake), TWEETLAKE_WORK_DIR=str(work))
    argv = ("-v", "refresh", "--tweets", "300", "--days", "1", "--end-date", "2026-11-20")
    done = tweetlake(fake_twitter.base_url, env, *argv)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert (lake / "quality" / "index.html").is_file() and any((lake / "quality" / "docs").rglob("*.html"))
    secrets = (TOKEN, AWS_SECRET, AWS_KEY_ID)
    assert secrets_in(output, secrets) == [], output[-3000:]
    assert secrets_in(tree_bytes(lake), secrets) == []
    assert secrets_in(tree_bytes(work), secrets) == []
