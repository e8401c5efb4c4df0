"""Storage faults (issue 17): S3 answering 500/503, dropping a connection mid-body, or too slow to answer.

A fault-injecting proxy (:mod:`tests.faults.s3proxy`) stands between the lake and the moto S3 server: the
lake's ``TWEETLAKE_S3_ENDPOINT`` points at it. Ground truth is a clean lake built from the same sample
without faults (a local lake: same keys and rows): a faulted lake must end up with exactly its bronze
objects (same keys, same tweets) and silver rows, no tweet lost and none twice. Canary AWS credentials
are in the environment (moto takes any key): no message, output or exception may show them.

What the suite found at first: a 503 storm on one PUT cost 25 tries and ~40 s (botocore's retries under
s3fs' own five rounds) and ended in ``OSError: [Errno 16] Please reduce your request rate.``, naming neither
the request nor the object; a build buried it in every model's traceback; a store that did not answer held a
request for botocore's 60 s read timeout, 25 times over; delta-rs (publish) took its own defaults (10
retries, up to 3 minutes) and said "Failed to parse parquet: External: Generic S3 error" for a 503, and only
"Kernel error -> Generic S3 error" for a slow store. Now the lake's S3 clients share timeouts and tries
(``TWEETLAKE_S3_TIMEOUT``, ``TWEETLAKE_S3_MAX_ATTEMPTS``) and a failure after them is one message naming
the request, the object and what to do (:class:`foundation.lake.S3Unavailable`).
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from foundation import delta
from foundation.lake import Lake, S3Unavailable
from foundation.settings import Settings, load_settings
from pipeline import cli, steps
from tests.bronze_reader import bronze, bronze_tweet_ids
from tests.faults.s3proxy import Fault, S3Proxy
from tests.fixtures_lake import make_bucket
from tests.test_dbt_models import SILVER, VOLATILE, read_table

SAMPLE: dict[str, Any] = {"tweets": 600, "days": 2, "end_date": date(2026, 11, 20)}
ARGS = ["--source", "sample", "--tweets", "600", "--days", "2", "--end-date", "2026-11-20"]
HEX = uuid.uuid4().hex
AWS_KEY_ID = f"AKIACANARY{HEX[:10].upper()}"
AWS_SECRET = f"CanaryS3FaultSecret/{HEX}+x"


@pytest.fixture(scope="module")
def proxy(moto_server: str) -> Iterator[S3Proxy]:
    running = S3Proxy(moto_server)
    yield running
    running.close()


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinctive credentials (moto accepts any): what must never show anywhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)


@pytest.fixture
def faulted(proxy: S3Proxy, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh lake on moto, reached through the proxy (the CLI's environment too); no faults left after."""
    bucket = make_bucket(moto_server)
    monkeypatch.setenv("TWEETLAKE_S3_ENDPOINT", proxy.endpoint)
    yield load_settings({"TWEETLAKE_LAKE": f"s3://{bucket}/lake", "TWEETLAKE_S3_ENDPOINT": proxy.endpoint})
    proxy.clear()


@pytest.fixture(scope="module")
def clean_bronze(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The ground truth's bronze: the same sample ingested with no S3 and no fault (a local lake: the same
    keys and rows, without a second slow S3 build)."""
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("clean") / "lake")})
    steps.run_ingest(settings, "sample", **SAMPLE)
    return settings


@pytest.fixture(scope="module")
def clean(clean_bronze: Settings) -> Settings:
    """The ground truth: that bronze built, no fault."""
    steps.run_build(clean_bronze)
    return clean_bronze


# -- reading a lake ------------------------------------------------------------------------------------------
def bronze_objects(settings: Settings) -> dict[str, list[str]]:
    """Each bronze object (its key) and the tweet ids of its pages, in order; every line checked whole."""
    objects: dict[str, list[str]] = {}
    for record in bronze(Lake.from_settings(settings)):
        objects.setdefault(record.rel, []).extend(record.tweet_ids)
    return objects


def run_journals(settings: Settings) -> list[str]:
    return Lake.from_settings(settings).glob("_state/runs/**/*.json")


def rows(settings: Settings, expression: str) -> list[tuple[Any, ...]]:
    """The rows of a read_parquet()/delta expression, sorted, without the build's own times and run ids."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    Lake.from_settings(settings).register_with(con)
    try:
        rel = con.sql(f"select * from {expression}")
        keep = ", ".join(f'"{c}"' for c in rel.columns if c not in VOLATILE and c != "run_id")
        found = con.sql(f"select {keep} from rel").fetchall()
    finally:
        con.close()
    # means of doubles differ in the last bits with the order rows were added in
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in found)


def silver(settings: Settings, table: str) -> list[tuple[Any, ...]]:
    return rows(settings, read_table(Lake.from_settings(settings), "silver", table))


def assert_silver_is_clean(settings: Settings, clean: Settings) -> None:
    """Silver holds every bronze tweet once, and every table equals the clean lake's, row for row."""
    lake = Lake.from_settings(settings)
    ids = [
        row[0]
        for row in rows(settings, f"read_parquet('{lake.url('_staging/silver', 'tweets')}/*/*.parquet')")
    ]
    assert len(ids) == len(set(ids)) and set(ids) == bronze_tweet_ids(lake)
    for table in SILVER:
        assert silver(settings, table) == silver(clean, table), table


def no_secret(*texts: str) -> None:
    for text in texts:
        assert AWS_SECRET not in text and AWS_KEY_ID not in text


def tweetlake(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the CLI in-process (its own error mapping and redaction); exit code, stdout + stderr."""
    capsys.readouterr()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


# -- the cases -----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_s3_faults_in_ingest_and_build_are_retried_or_fail_clearly_and_the_rerun_is_clean(
    faulted: Settings,
    clean: Settings,
    proxy: S3Proxy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One lake through three kinds of trouble (one S3 lake: each S3 build costs about a minute here).

    1. An ingest meets 500s and 503s on bronze and run-journal PUTs: retried, its bronze is the clean one.
    2. A build meets 503s on every PUT of silver.tweets, longer than the retries: it fails with the store's
       one message (not every model's traceback), silver.tweets is not written at all, the build state
       records no bronze file.
    3. The rerun meets a 503 on a silver PUT, 503s on bronze GETs and a GET whose body is cut off: each is
       retried (botocore, s3fs) and silver equals the clean lake's.
    Publish's Delta writes meet their faults in test_delta_writes_retry_a_slow_or_failing_store_then_fail_
    clearly."""
    ingest_faults = [
        Fault("PUT", r"/bronze/", skip=1, times=2, status=503, code="SlowDown"),
        Fault("PUT", r"/_state/runs/", times=1, status=500, code="InternalError"),
    ]
    proxy.inject(*ingest_faults)
    steps.run_ingest(faulted, "sample", **SAMPLE)
    assert bronze_objects(faulted) == bronze_objects(clean)
    assert len(run_journals(faulted)) == len(run_journals(clean))

    monkeypatch.setenv("TWEETLAKE_S3_MAX_ATTEMPTS", "2")  # dbt's process inherits it
    storm = Fault("PUT", r"/_staging/silver/tweets/", times=0, status=503, code="SlowDown")
    proxy.inject(storm)
    code, said = tweetlake(capsys, "build", "--lake", faulted.lake)
    assert code == cli.EXIT_FAILED and storm.injected >= 2
    assert "PUT (put_object) of s3://" in said and "/lake/_staging/silver/tweets/" in said
    assert "TWEETLAKE_S3_ENDPOINT" in said and "rerun" in said
    # the error (after dbt's streamed progress lines): one message, not one per failed model and traceback
    error = said[said.index("tweetlake: dbt build failed") :]
    assert error.count(S3Unavailable.MARKER) == 1 and "Traceback" not in error
    no_secret(said)
    proxy.clear()
    lake = Lake.from_settings(faulted)
    assert not list(lake.walk_files("_staging/silver/tweets"))  # nothing half-landed
    assert not lake.glob("_state/build/bronze_files/*/*.parquet")  # the next build reads all bronze again

    monkeypatch.delenv("TWEETLAKE_S3_MAX_ATTEMPTS")
    build_faults = [
        Fault("GET", r"/bronze/.*\.jsonl", times=2, status=503, code="ServiceUnavailable"),
        Fault("GET", r"/bronze/.*\.jsonl", times=1, drop=True),
        Fault("PUT", r"/_staging/silver/tweets/", times=1, status=503, code="SlowDown"),
    ]
    proxy.inject(*build_faults)
    steps.run_build(faulted)
    # every fault was met: a pattern matching nothing would make this test pass without testing anything
    met = ingest_faults + build_faults
    assert [f.injected for f in met] == [f.times for f in met]
    assert_silver_is_clean(faulted, clean)


def test_a_put_storm_stops_ingest_clearly_and_the_rerun_lands_the_clean_bronze(
    faulted: Settings,
    clean_bronze: Settings,
    proxy: S3Proxy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """503 SlowDown on every bronze PUT after the first two, longer than the retries: the ingest fails
    in seconds (it took ~40 s per object and said only "[Errno 16] Please reduce your request rate."),
    naming the PUT, the object and what to do; what landed is whole objects, no run is recorded whose
    objects are missing, and the rerun after the storm lands exactly the clean bronze."""
    monkeypatch.setenv("TWEETLAKE_S3_MAX_ATTEMPTS", "2")
    storm = Fault("PUT", r"/bronze/", skip=2, times=0, status=503, code="SlowDown")
    proxy.inject(storm)
    started = time.monotonic()
    code, said = tweetlake(capsys, "ingest", *ARGS, "--lake", faulted.lake)
    assert code == cli.EXIT_FAILED and time.monotonic() - started < 30
    assert storm.injected >= 2  # the failed PUT was retried before giving up
    bucket = faulted.lake.removeprefix("s3://").split("/")[0]
    assert "PUT (put_object) of s3://" + bucket + "/lake/bronze/" in said and "HTTP 503 SlowDown" in said
    assert "TWEETLAKE_S3_ENDPOINT" in said and "rerun the same command" in said and "Traceback" not in said
    no_secret(said)

    proxy.clear()
    landed = bronze_objects(faulted)  # every line of every object whole (bronze() checks each)
    assert len(landed) == 2 and all(landed[rel] == bronze_objects(clean_bronze)[rel] for rel in landed)
    lake = Lake.from_settings(faulted)
    for journal in run_journals(faulted):  # a committed run's objects are all there
        assert all(rel in landed for rel in lake.read_json(journal)["objects"]), journal

    code, said = tweetlake(capsys, "ingest", *ARGS, "--lake", faulted.lake)
    assert code == cli.EXIT_OK, said
    assert bronze_objects(faulted) == bronze_objects(clean_bronze)
    assert sorted(run_journals(faulted)) == sorted(run_journals(clean_bronze))


def test_slow_s3_times_out_retries_then_fails_clearly(
    faulted: Settings, clean_bronze: Settings, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PUT held back longer than the read timeout is given up and retried: the ingest still lands the
    clean bronze. A store that never answers in time fails the ingest in seconds, saying it timed out
    (botocore's 60 s read timeout, 25 tries of it, made one request take up to 25 minutes)."""
    monkeypatch.setenv("TWEETLAKE_S3_TIMEOUT", "1")
    monkeypatch.setenv("TWEETLAKE_S3_MAX_ATTEMPTS", "2")
    slow = Fault("PUT", r"/bronze/", skip=1, times=1, delay=3)
    proxy.inject(slow)
    steps.run_ingest(faulted, "sample", **SAMPLE)
    assert slow.injected == 1
    assert bronze_objects(faulted) == bronze_objects(clean_bronze)

    proxy.clear()
    proxy.inject(Fault("PUT", r"/bronze/", times=0, delay=3))
    started = time.monotonic()
    with pytest.raises(S3Unavailable) as failed:
        steps.run_ingest(faulted, "sample", **SAMPLE)
    assert time.monotonic() - started < 20
    message = str(failed.value)
    assert "PUT (put_object) of s3://" in message and "no answer within TWEETLAKE_S3_TIMEOUT" in message
    no_secret("".join(traceback.format_exception(failed.value)))
    assert cli.exit_status(failed.value) == (cli.EXIT_FAILED, f"tweetlake: {message}")
    proxy.clear()
    time.sleep(3)  # the held-back PUTs reach moto late (same bytes): let them land before comparing
    assert bronze_objects(faulted) == bronze_objects(clean_bronze)


def test_delta_writes_retry_a_slow_or_failing_store_then_fail_clearly(
    faulted: Settings, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publish's Delta commits (delta-rs, its own S3 client): a 503 and a slow answer are retried; a storm
    of either fails in seconds (object_store's defaults: 10 retries for up to 3 minutes) with the lake's
    message naming the table, not "Kernel error -> Generic S3 error"; the table is at a whole version."""
    monkeypatch.setenv("TWEETLAKE_S3_TIMEOUT", "1")
    monkeypatch.setenv("TWEETLAKE_S3_MAX_ATTEMPTS", "3")
    lake = Lake.from_settings(faulted)
    first = pa.table({"tweet_id": ["1", "2"]})
    transient = [
        Fault("PUT", r"/_delta_log/", times=1, status=503, code="SlowDown"),
        Fault("PUT", r"/part-", times=1, delay=3),
    ]
    proxy.inject(*transient)
    assert delta.overwrite(lake, "gold/t", first, {}) == 0
    assert [f.injected for f in transient] == [1, 1]

    for storm in (Fault("PUT", r"/gold/t/", times=0, status=503), Fault(None, r"/gold/t/", times=0, delay=3)):
        proxy.clear()
        proxy.inject(storm)
        started = time.monotonic()
        with pytest.raises(S3Unavailable) as failed:
            delta.overwrite(lake, "gold/t", pa.table({"tweet_id": ["3"]}), {})
        assert time.monotonic() - started < 20
        message = str(failed.value)
        assert f"{faulted.lake}/gold/t" in message and "TWEETLAKE_S3_ENDPOINT" in message
        assert ("HTTP 503" if storm.status else "TWEETLAKE_S3_TIMEOUT") in message
        no_secret("".join(traceback.format_exception(failed.value)))
    proxy.clear()
    time.sleep(3)  # held-back requests reach moto late
    # a commit PUT the client gave up on may still land (as on S3): the table is then at the new version,
    # whole; never at a version with the files of two
    table = delta.open_table(lake, "gold/t")
    current = table.to_pyarrow_table().sort_by("tweet_id")
    assert (table.version(), current.column("tweet_id").to_pylist()) in ((0, ["1", "2"]), (1, ["3"]))
