"""The Airflow DAGs' integrity: they import cleanly and fast, are well-formed, and their settings behave.

Runs of the DAG are in ``test_airflow_runs.py`` (``dag.test()``) and ``test_airflow_scheduler.py`` (a real
API server, scheduler and DAG processor).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

from foundation.settings import REPO_ROOT

DAG_ID = "tweetlake_refresh"
CONSUMER_ID = "tweetlake_gold_consumer"
LAKE_TASKS = ("build_silver", "validate_silver", "build_gold", "validate_gold", "publish")
MAINTAIN_ID = "tweetlake_maintain"
COMPLIANCE_ID = "tweetlake_compliance"
DAG_FILES = {
    "tweetlake_refresh.py",
    "tweetlake_gold_consumer.py",
    "tweetlake_maintain.py",
    "tweetlake_compliance.py",
}
PARAMS = {
    "source": None,  # no TWEETLAKE_SOURCE: no source, never generated tweets by default (issue 17)
    "allow_mixed_sources": False,
    "full_refresh": False,
    "queries": None,
    "accounts": None,
    "sample_tweets": 3000,
    "sample_days": 1,
    "sample_seed": 42,
    "replay_path": None,
}


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.fixture(scope="module")
def dagbag():
    return load_dagbag()  # parsing needs no metadata DB: these integrity tests stay quick


def callbacks(value) -> list:  # noqa: ANN001 - Airflow keeps one callback or a list of them
    return list(value) if isinstance(value, (list, tuple)) else [value] if value else []


def test_dags_import_cleanly_and_fast() -> None:
    load_dagbag()  # warm Airflow's own imports; what is timed below is parsing our files
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        bag = load_dagbag()
        seconds = time.perf_counter() - started
    assert bag.import_errors == {}
    ours = [w for w in caught if "dags/" in str(w.filename) or "orchestration" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    assert seconds < 3, f"the DAG folder took {seconds:.1f}s to parse"
    assert set(bag.dags) == {DAG_ID, CONSUMER_ID, MAINTAIN_ID, COMPLIANCE_ID}
    # dags/ holds DAG files only (the glue is the installed package orchestration/): each file is one DAG
    assert {Path(s.file).name: s.dag_num for s in bag.dagbag_stats} == dict.fromkeys(DAG_FILES, 1)
    assert {p.name for p in (REPO_ROOT / "dags").iterdir() if p.suffix == ".py"} == DAG_FILES


def test_dag_file_imports_no_heavy_modules() -> None:
    """Parsing must stay cheap: dbt, DuckDB, Great Expectations and pandas load only inside tasks."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "heavy = [m for m in ('duckdb', 'great_expectations', 'dbt', 'pandas', 's3fs') if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "dags" / "tweetlake_refresh.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("dag_id", [DAG_ID, CONSUMER_ID, MAINTAIN_ID, COMPLIANCE_ID])
def test_every_dag_follows_the_house_rules(dagbag, dag_id: str) -> None:
    """What every DAG of the project keeps: an owner, tags, UTC start, no catchup, one run at a time, docs
    rendered as markdown, and a failure alert on the run and on every task."""
    from orchestration.alerts import alert_on_failure, alert_on_run_failure

    dag = dagbag.dags[dag_id]
    assert dag.owner == "data-platform" and "tweetlake" in dag.tags
    assert dag.start_date == pendulum.datetime(2026, 11, 1, tz="UTC")
    assert dag.catchup is False, "a new or unpaused deployment must not run every interval since the start"
    assert dag.max_active_runs == 1, "DuckDB allows one writer: runs must not overlap"
    assert dag.doc_md.lstrip().startswith("### "), "the docs open with a markdown heading"
    assert not [line for line in dag.doc_md.splitlines() if line.startswith("    ")], "no code-block lines"
    assert callbacks(dag.on_failure_callback) == [alert_on_run_failure], "a run that times out must alert"
    for task in dag.tasks:
        assert callbacks(task.on_failure_callback) == [alert_on_failure], task.task_id


def test_refresh_runs_its_tasks_in_order(dagbag) -> None:
    dag = dagbag.dags[DAG_ID]
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["streams", "ingest", *LAKE_TASKS, "report"]
    for upstream, task_id in zip(order, order[1:], strict=False):
        assert upstream in dag.task_dict[task_id].upstream_task_ids, f"{upstream} -> {task_id}"
    assert dag.task_dict["report"].upstream_task_ids == {"ingest", "validate_gold", "publish"}
    assert dag.task_dict["ingest"].upstream_task_ids == {"streams"}
    assert dag.task_dict["streams"].upstream_task_ids == set()


def test_refresh_schedule_and_limits(dagbag) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags[DAG_ID]
    assert isinstance(dag.timetable, CronDataIntervalTimetable), "runs need a data interval to ingest"
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 * * * *", "UTC")
    assert dag.dagrun_timeout == timedelta(hours=2)
    assert dag.max_active_tasks == 4


def test_refresh_params_defaults_and_validation(dagbag) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags[DAG_ID]
    assert dag.params.validate() == PARAMS
    good = {"source": "api", "queries": ["duckdb"], "accounts": [], "sample_days": 31, "replay_path": "/r"}
    for name, value in good.items():
        params = copy.deepcopy(dag.params)
        params[name] = value
        assert params.validate()[name] == value
    bad = {"source": "ftp", "sample_days": 0, "sample_tweets": -1, "queries": "duckdb", "full_refresh": "yes"}
    for name, value in bad.items():
        params = copy.deepcopy(dag.params)
        with pytest.raises(ParamValidationError):
            params[name] = value
            params.validate()


def test_retries_fit_what_can_fail(dagbag) -> None:
    """Ingest retries network trouble with backoff; planning never retries; the lake tasks retry once."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags[DAG_ID]
    ingest = dag.task_dict["ingest"]
    assert isinstance(ingest, MappedOperator), "one ingest task per query/account"
    assert ingest.partial_kwargs["retries"] == 3
    assert ingest.partial_kwargs["retry_delay"] == timedelta(minutes=1)
    assert ingest.partial_kwargs["retry_exponential_backoff"] == 2.0
    assert ingest.partial_kwargs["max_retry_delay"] == timedelta(minutes=15)
    assert ingest.partial_kwargs["max_active_tis_per_dagrun"] == 4
    assert dag.task_dict["streams"].retries == 0
    for task_id in (*LAKE_TASKS, "report"):
        task = dag.task_dict[task_id]
        assert (task.retries, task.retry_delay) == (1, timedelta(minutes=2)), task_id
    assert [t.retries for t in dagbag.dags[CONSUMER_ID].tasks] == [0]


def test_lake_writers_share_one_pool(dagbag) -> None:
    dag = dagbag.dags[DAG_ID]
    pools = {task.task_id: task.pool for task in dag.tasks}
    assert pools == {
        "streams": "default_pool",
        "ingest": "default_pool",  # separate bronze partitions: ingest tasks run in parallel
        **dict.fromkeys(LAKE_TASKS, "tweetlake_lake"),
        "report": "default_pool",
    }


def test_the_pool_is_the_one_airflow_gets() -> None:
    """``make airflow`` and the test Airflow create the pool the lake tasks wait for, with 1 slot."""
    from orchestration.refresh import POOL
    from tests.fixtures_airflow import POOL as FIXTURE_POOL

    script = (REPO_ROOT / "orchestration" / "run_airflow.sh").read_text()
    assert POOL == FIXTURE_POOL == "tweetlake_lake"
    assert f'airflow pools set {POOL} 1 "' in script


def test_assets_are_outlets_under_the_lake_root(dagbag) -> None:
    dag = dagbag.dags[DAG_ID]

    def outlet_uris(task_id: str) -> list[str]:
        task = dag.task_dict[task_id]
        outlets = task.partial_kwargs.get("outlets") if hasattr(task, "partial_kwargs") else None
        return [a.uri for a in (outlets or task.outlets)]

    from foundation.settings import load_settings

    lake = load_settings().lake
    assert outlet_uris("ingest") == [f"file://{lake}/bronze"]
    assert outlet_uris("publish") == [f"file://{lake}/silver", f"file://{lake}/gold"]
    assert {t.task_id for t in dag.tasks if outlet_uris(t.task_id)} == {"ingest", "publish"}
    consumer = dagbag.dags[CONSUMER_ID]
    assert "tweetlake_gold" in str(consumer.timetable.asset_condition)
    assert [a.uri for a in consumer.task_dict["announce"].inlets] == [f"file://{lake}/gold"]


def test_asset_uris_for_s3_and_local_lakes() -> None:
    from orchestration.assets import lake_assets, layer_uri

    assert layer_uri("s3://bucket/prefix", "gold") == "s3://bucket/prefix/gold"
    assert layer_uri("/abs/lake", "silver") == "file:///abs/lake/silver"
    assert lake_assets("s3://b/p").bronze.name == "tweetlake_bronze"
    with pytest.raises(ValueError):
        layer_uri("/abs/lake", "platinum")


def test_schedule_and_source_come_from_the_environment() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    from foundation.settings import ConfigError
    from orchestration.refresh import default_source, schedule_from_env

    hourly = schedule_from_env({})
    assert isinstance(hourly, CronDataIntervalTimetable), "runs need a data interval to ingest"
    assert hourly.expression == "0 * * * *"
    assert schedule_from_env({"TWEETLAKE_SCHEDULE": "*/15 * * * *"}).expression == "*/15 * * * *"
    assert schedule_from_env({"TWEETLAKE_SCHEDULE": "none"}) is None
    assert default_source({}) is None, "unset: no source (a run fails saying what to set), never sample"
    assert default_source({"TWEETLAKE_SOURCE": " "}) is None
    assert default_source({"TWEETLAKE_SOURCE": "sample"}) == "sample"
    assert default_source({"TWEETLAKE_SOURCE": "api"}) == "api"
    with pytest.raises(ConfigError):
        default_source({"TWEETLAKE_SOURCE": "ftp"})
    from orchestration.refresh import retry_delay_from_env

    assert retry_delay_from_env({}) == timedelta(minutes=2)
    assert retry_delay_from_env({"TWEETLAKE_RETRY_DELAY_SECONDS": "3"}) == timedelta(seconds=3)
    with pytest.raises(ConfigError, match="TWEETLAKE_RETRY_DELAY_SECONDS"):
        retry_delay_from_env({"TWEETLAKE_RETRY_DELAY_SECONDS": "soon"})


def test_schedule_env_reaches_the_parsed_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    # DagBag imports each DAG file anew, so the file reads the environment of this parse.
    monkeypatch.setenv("TWEETLAKE_SCHEDULE", "15 */6 * * *")
    assert load_dagbag().dags[DAG_ID].timetable.expression == "15 */6 * * *"
    monkeypatch.setenv("TWEETLAKE_SCHEDULE", "none")
    assert load_dagbag().dags[DAG_ID].timetable.__class__.__name__ == "NullTimetable", "manual runs only"


def test_plan_streams_follows_settings_and_params(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from orchestration.refresh import plan_streams

    monkeypatch.setenv("TWEETLAKE_QUERIES", "duckdb; #dbt")
    monkeypatch.setenv("TWEETLAKE_ACCOUNTS", "@motherduck")
    assert plan_streams({"source": "sample"}) == [
        {"kind": "query", "name": "duckdb"},
        {"kind": "query", "name": "#dbt"},
        {"kind": "account", "name": "motherduck"},
    ]
    assert plan_streams({"source": "sample", "queries": ["x"], "accounts": []}) == [
        {"kind": "query", "name": "x"}
    ]
    assert plan_streams({"source": "replay", "replay_path": "/r"}) == [{"kind": "replay", "name": "/r"}]
    with pytest.raises(AirflowFailException, match="nothing to ingest"):
        plan_streams({"source": "sample", "queries": [], "accounts": []})
    with pytest.raises(AirflowFailException, match="replay_path"):
        plan_streams({"source": "replay"})


def test_data_interval_drives_the_source_window() -> None:
    from datetime import UTC, date, datetime

    import pendulum

    from orchestration.refresh import Interval, source_options

    start = pendulum.datetime(2026, 11, 20, 13, tz="UTC")
    interval = Interval.from_context(start, start.add(hours=1), None)
    now = datetime(2026, 11, 20, 15, 5, tzinfo=UTC)
    api = source_options({"source": "api"}, interval, now=now)
    assert api == {
        "start_time": datetime(2026, 11, 20, 13, tzinfo=UTC),
        "end_time": datetime(2026, 11, 20, 14, tzinfo=UTC),
    }
    # the same interval a week and a day later (a backfill, a catchup): beyond recent search's 7 days, its
    # queries are read through full-archive search
    late = source_options({"source": "api"}, interval, now=now + pendulum.duration(days=8))
    assert late == {**api, "archive": True}
    edge = source_options({"source": "api"}, interval, now=start.add(days=7, minutes=-2))
    assert "archive" not in edge
    sample = source_options({"source": "sample", "sample_tweets": 10, "sample_days": 1}, interval)
    assert sample["end_date"] == date(2026, 11, 20) and sample["tweets"] == 10
    manual = Interval.from_context(None, None, type("Run", (), {"run_after": start})())
    assert Interval.from_context(start, start, None).start is None, "a point in time is no window"
    assert source_options({"source": "api"}, manual) == {}, "no interval: incremental from watermarks"
    assert source_options({"source": "sample"}, manual)["end_date"] == date(2026, 11, 20)


def test_aws_connection_goes_to_the_task_environment_only(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from orchestration.settings import export_aws_connection

    secret = "wJalrXUtnFEMI-tweetlake-test-secret"
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIATWEETLAKE",
                "password": secret,
                "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-central-1"},
            }
        ),
    )
    env: dict[str, str] = {"TWEETLAKE_LAKE": "s3://b/p"}
    with caplog.at_level("DEBUG"):
        assert export_aws_connection(environ=env) is True
    assert env["AWS_ACCESS_KEY_ID"] == "AKIATWEETLAKE" and env["AWS_SECRET_ACCESS_KEY"] == secret
    assert (
        env["TWEETLAKE_S3_ENDPOINT"] == "http://127.0.0.1:9" and env["AWS_DEFAULT_REGION"] == "eu-central-1"
    )
    assert secret not in caplog.text
    env = {"TWEETLAKE_S3_ENDPOINT": "http://minio:9000"}
    export_aws_connection(environ=env)
    assert env["TWEETLAKE_S3_ENDPOINT"] == "http://minio:9000", "an explicit endpoint wins"
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    assert export_aws_connection(environ={}) is False


def test_no_secrets_in_dag_code() -> None:
    text = "\n".join(p.read_text() for p in (REPO_ROOT / "dags").rglob("*.py"))
    for marker in ("AAAAAAAAAAAAAAAAAAAAA", "aws_secret_access_key=", "hooks.slack.com/services/T"):
        assert marker not in text
