"""
### tweetlake compliance (weekly)

Honours the developer terms in every layer: checks the lake's post and user ids with the API's batch
compliance jobs and removes what was deleted, protected, suspended or deactivated (`tweetlake compliance`,
the same function). The results land in `silver.compliance_events`; bronze objects holding removed posts or
users are rewritten without them (all else byte-identical); silver and gold are rebuilt from the redacted
bronze through the quality gate and published; the quality reports drop the rows that named them; gold's
older Delta versions are purged.

A job the API has not finished within `TWEETLAKE_COMPLIANCE_TIMEOUT_SECONDS` (2 h) fails the task; its
retry, or next week's run, carries on with the same job. It holds the lake's lease like every writing
step. Settings as for `tweetlake_refresh` (`TWEETLAKE_LAKE`, connections `twitter_default` and
`aws_default`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from orchestration import refresh as steps
from orchestration.alerts import alert_on_failure, alert_on_run_failure


@dag(
    dag_id="tweetlake_compliance",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,  # each run checks the whole lake: a missed week is covered by the next
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        # a job still in progress is carried on by the retry (the API keeps it; the lake remembers its id)
        "retries": 2,
        "retry_delay": timedelta(minutes=30),
        "on_failure_callback": alert_on_failure,
    },
    on_failure_callback=alert_on_run_failure,
    tags=["tweetlake", "compliance"],
    doc_md=__doc__,
)
def tweetlake_compliance() -> None:
    @task(pool=steps.POOL)
    def compliance() -> dict:
        return steps.compliance_lake()

    compliance()


tweetlake_compliance()
