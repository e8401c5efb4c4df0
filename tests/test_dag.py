"""The Airflow DAG: integrity (imports cleanly, fast, well-formed) and a real run with ``dag.test()``."""

from __future__ import annotations

import time
import warnings

import pytest

from ingestion.config import REPO_ROOT, Settings
from ingestion.lake import Lake

DAG_ID = "tweetlake_refresh"


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def test_dags_import_cleanly_and_fast(airflow_db: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        bag = load_dagbag()
        seconds = time.perf_counter() - started
    assert bag.import_errors == {}
    ours = [w for w in caught if "dags/" in str(w.filename) or "tweetlake_airflow" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    assert seconds < 10, f"DAG folder took {seconds:.1f}s to parse"
    assert DAG_ID in bag.dags


def test_dag_is_well_formed(airflow_db: str) -> None:
    dag = load_dagbag().dags[DAG_ID]
    assert dag.doc_md and "quality gate" in dag.doc_md
    assert dag.max_active_runs == 1, "DuckDB allows one writer: runs must not overlap"
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    for task in dag.tasks:
        assert task.on_failure_callback, f"{task.task_id} has no failure alert"
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("ingest") < order.index("build") < order.index("validate") < order.index("publish")


@pytest.mark.slow
def test_dag_run_refreshes_the_lake(
    airflow_db: str, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_LAKE", local_settings.lake)
    dag = load_dagbag().dags[DAG_ID]
    run = dag.test(run_conf={"source": "sample", "sample_tweets": 800, "full_refresh": False})
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    lake = Lake.from_settings(local_settings)
    assert lake.exists("gold/tweets_export.parquet") and lake.exists("gold/tweets_export.csv")
    assert lake.read_json("gold/_published.json")["tables"]["tweets_export"] == 800
    assert lake.glob("quality/runs/*.json")
