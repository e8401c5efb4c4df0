"""
### tweetlake maintenance (weekly)

Keeps the lake's Delta tables small and quick to open: compacts small files, checkpoints each table's log
and vacuums the files no version of the last 7 days needs (`tweetlake maintain`, the same function). Time
travel, `tweetlake rollback` and any reader that opened a snapshot within those 7 days keep working.

It holds the lake's lease like every writing step, so it never runs while a refresh builds or publishes: it
waits up to `TWEETLAKE_LEASE_WAIT`, and its retry tries again. Settings as for `tweetlake_refresh`
(`TWEETLAKE_LAKE`, connection `aws_default`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from orchestration import refresh as steps
from orchestration.alerts import alert_on_failure, alert_on_run_failure


@dag(
    dag_id="tweetlake_maintain",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        # idempotent, and a lease held by a long refresh is worth waiting out once
        "retries": 1,
        "retry_delay": timedelta(minutes=10),
        "on_failure_callback": alert_on_failure,
    },
    on_failure_callback=alert_on_run_failure,
    tags=["tweetlake", "maintenance"],
    doc_md=__doc__,
)
def tweetlake_maintain() -> None:
    @task(pool=steps.POOL)
    def maintain() -> dict:
        return steps.maintain_lake()

    maintain()


tweetlake_maintain()
