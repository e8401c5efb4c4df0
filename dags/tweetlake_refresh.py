"""
### tweetlake refresh

Keeps the Twitter/X lake fresh: **ingest** API v2 pages into bronze, **build** silver and gold with dbt,
**validate** with Great Expectations (the quality gate), and **publish** gold only when validation passes
(write-audit-publish: a failed gate leaves the last good gold in place).

The tasks call the same functions as the `tweetlake` CLI (`ingestion.pipeline`).

* Source: param `source` (`sample` by default, `api` for the real API with the `twitter_default` connection).
* Lake: `TWEETLAKE_LAKE` (a folder or `s3://bucket/prefix`), S3 credentials from the AWS chain.
* One run at a time (`max_active_runs=1`): DuckDB allows one writer.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from tweetlake_airflow.alerts import alert_on_failure
from tweetlake_airflow.settings import airflow_settings

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 0,
    "on_failure_callback": alert_on_failure,
}


@dag(
    dag_id="tweetlake_refresh",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=2),
    tags=["tweetlake"],
    doc_md=__doc__,
    params={
        "source": Param("sample", enum=["sample", "api"], description="where tweets come from"),
        "full_refresh": Param(False, type="boolean", description="rebuild incremental models"),
        "sample_tweets": Param(3000, type="integer", minimum=0, description="sample source: tweets"),
    },
)
def tweetlake_refresh() -> None:
    @task(retries=3, retry_delay=timedelta(minutes=1), retry_exponential_backoff=True)
    def ingest(params: dict | None = None) -> dict:
        from ingestion.pipeline import run_ingest

        options = {"tweets": params["sample_tweets"]} if params["source"] == "sample" else {}
        summary = run_ingest(airflow_settings(params["source"]), params["source"], **options)
        return {"pages": summary.pages, "tweets": summary.tweets}

    @task
    def build(_ingested: dict, params: dict | None = None) -> None:
        from ingestion.pipeline import run_build

        run_build(airflow_settings(params["source"]), full_refresh=params["full_refresh"])

    @task
    def validate(run_id: str | None = None, params: dict | None = None) -> str:
        from ingestion.pipeline import run_validate

        return run_validate(airflow_settings(params["source"]), run_id=_safe(run_id)).docs_path

    @task
    def publish(report: str, run_id: str | None = None, params: dict | None = None) -> dict:
        from ingestion.pipeline import run_publish

        return run_publish(airflow_settings(params["source"]), run_id=_safe(run_id)).tables

    built = build(ingest())
    report = validate()
    built >> report
    publish(report)


def _safe(run_id: str | None) -> str | None:
    return run_id.replace(":", "").replace("+", "") if run_id else None


tweetlake_refresh()
