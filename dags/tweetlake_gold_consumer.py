"""
### tweetlake gold consumer (example)

How another team subscribes to the lake: this DAG has no clock. Airflow runs it each time
`tweetlake_refresh` **publishes** gold (the asset `tweetlake_gold`, URI `<lake>/gold`), and only then: a
failed quality gate publishes nothing, so it does not run on bad data.

Its one task logs what was published (tables and rows, from the asset event and from
`<lake>/gold/_published.json`). Replace it with your own: refresh a dashboard extract, notify a channel, copy
`gold/tweets_export.csv` somewhere. Subscribe to `tweetlake_silver` instead to get every validated silver.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from orchestration.alerts import alert_on_failure, alert_on_run_failure
from orchestration.assets import lake_assets

LAKE = lake_assets()


@dag(
    dag_id="tweetlake_gold_consumer",
    schedule=[LAKE.gold],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 0, "on_failure_callback": alert_on_failure},
    on_failure_callback=alert_on_run_failure,
    tags=["tweetlake", "example"],
    doc_md=__doc__,
)
def tweetlake_gold_consumer() -> None:
    @task(inlets=[LAKE.gold])
    def announce(triggering_asset_events=None) -> dict:
        from orchestration.refresh import describe_gold_update

        return describe_gold_update(triggering_asset_events)

    announce()


tweetlake_gold_consumer()
