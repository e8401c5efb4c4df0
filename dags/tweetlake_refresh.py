"""
### tweetlake refresh

Keeps the Twitter/X lake fresh, one data interval per run:

1. **streams**: the queries and accounts to ingest (`TWEETLAKE_QUERIES`/`TWEETLAKE_ACCOUNTS`, or the
   `queries`/`accounts` params of a manual run);
2. **ingest**, mapped: one task per query and per account lands its API v2 pages in bronze (retried with
   exponential backoff: 1, 2, 4 min);
3. **build_silver** (`dbt build --select tag:silver`), then **validate_silver** (Great Expectations);
4. **build_gold** into staging, then **validate_gold**: together the **quality gate**;
5. **publish**: staged silver and gold become new versions of the Delta tables `<lake>/silver` and
   `<lake>/gold` only when both gates passed (write-audit-publish: a failed gate leaves the last good silver
   and gold in place; readers never see what failed);
6. **report**: tweets per stream, rows per table, where the quality report (monitors, failures traced
   to bronze) and the lake report (gold as charts) are.

**The data interval drives the ingest window.** Source `api`: every tweet created in
`[data_interval_start, data_interval_end)`. Recent search reaches 7 days back, so the queries of an interval
older than that (a backfill: `airflow backfill create --dag-id tweetlake_refresh --from-date ... --to-date
...`) are read with full-archive search (`/2/tweets/search/all`, Pro or Enterprise access); without that
access the ingest fails at once saying so (no retry). Source `sample`: the generated day is the interval's
date, so the same interval always gives the same pages. A manual run without a logical date has no interval:
the API source then pulls incrementally from its `since_id` watermarks. Rerunning an interval replaces its
bronze pages instead of duplicating them.

**Freshness.** The gate judges "the newest tweet is at most `TWEETLAKE_QUALITY_MAX_AGE_HOURS` old" (and
"none in the future") at the run's data interval end (now, for a run without one), or at the newest fetch
in bronze if that is later: an ingest that quietly stopped (tasks green, no new tweets) fails the gate
`MAX_AGE` hours after its last tweet, naming the table and its newest timestamp; a backfill of old intervals
on a lake holding newer tweets passes. `TWEETLAKE_QUALITY_AS_OF` overrides it (`tweetlake validate` outside
Airflow judges at the newest fetch in bronze, or `--as-of`).

**Failures.** A quality failure (a Great Expectations gate or a dbt test) or a configuration error fails the
task at once, without retries: they are not transient. Every failed task alerts through
`on_failure_callback`: a log record, and a Slack-compatible webhook when the connection `tweetlake_alerts`
exists.

**One writer.** `max_active_runs=1`, and the build, validate and publish tasks share the pool
`tweetlake_lake` (1 slot): the scheduling hint. The guard is the lake's lease (`foundation/lease.py`), which
every step but ingest takes (ingests of different streams run side by side), so a manual `tweetlake` run or
another Airflow on the same lake waits too; a task that waited past `TWEETLAKE_LEASE_WAIT` fails naming the
holder, and its retry tries again.

**Settings.** Lake: `TWEETLAKE_LAKE` (a folder or `s3://bucket/prefix`); S3 credentials from connection
`aws_default` or the AWS chain; bearer token from connection `twitter_default`. Schedule: `TWEETLAKE_SCHEDULE`
(default `@hourly`, `none` for manual only); source of scheduled runs: `TWEETLAKE_SOURCE` (`api`, or `sample`
for a demo). It has no default: a run without a source fails at once saying what to set, so a deployment
never fills its lake with generated tweets by omission. Generated and real tweets never share a lake either:
an ingest refuses a lake holding the other kind unless the run param `allow_mixed_sources` is true.
Catchup is off: a paused or new deployment runs only the latest interval; use a backfill for the past.

**Assets** (`tweetlake_bronze`, `tweetlake_silver`, `tweetlake_gold`, URIs under the lake root): bronze after
each stream's ingest, silver and gold when they were published. Schedule a DAG on
`tweetlake_gold` to run after every publish (see `tweetlake_gold_consumer`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, chain, dag, get_current_context, task

from orchestration import refresh as steps
from orchestration.alerts import alert_on_failure, alert_on_run_failure
from orchestration.assets import lake_assets

LAKE = lake_assets()

DEFAULT_ARGS = {
    "owner": "data-platform",
    # Build, validate and publish are idempotent: one retry covers a passing S3 or lock hiccup. Quality and
    # configuration failures raise AirflowFailException, which skips the retries.
    "retries": 1,
    "retry_delay": steps.retry_delay_from_env(),  # TWEETLAKE_RETRY_DELAY_SECONDS, default 2 min
    "on_failure_callback": alert_on_failure,
}


@dag(
    dag_id="tweetlake_refresh",
    schedule=steps.schedule_from_env(),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=4,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=2),
    on_failure_callback=alert_on_run_failure,
    tags=["tweetlake"],
    doc_md=__doc__,
    params={
        "source": Param(
            steps.default_source(),  # TWEETLAKE_SOURCE; unset: None, and the run fails saying what to set
            type=["null", "string"],
            enum=[None, *steps.SOURCES],
            description="where tweets come from: api (twitter_default), replay (a file), sample (generated, "
            "for a demo); default TWEETLAKE_SOURCE",
        ),
        "allow_mixed_sources": Param(
            False,
            type="boolean",
            description="land generated tweets in a lake of real ones, or real ones among generated",
        ),
        "full_refresh": Param(False, type="boolean", description="rebuild incremental models from bronze"),
        "queries": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            description="only these search queries (unset: TWEETLAKE_QUERIES)",
        ),
        "accounts": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            description="only these accounts, without @ (unset: TWEETLAKE_ACCOUNTS)",
        ),
        "sample_tweets": Param(3000, type="integer", minimum=0, description="sample: tweets per run"),
        "sample_days": Param(
            1,
            type="integer",
            minimum=1,
            maximum=31,
            description="sample: days up to the interval",
        ),
        "sample_seed": Param(42, type="integer", description="sample: random seed"),
        "replay_path": Param(None, type=["null", "string"], description="replay: a recorded file or folder"),
    },
)
def tweetlake_refresh() -> None:
    @task(retries=0)
    def streams(params: dict | None = None) -> list[dict]:
        return steps.plan_streams(params)

    @task(
        retries=3,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=2.0,
        max_retry_delay=timedelta(minutes=15),
        max_active_tis_per_dagrun=4,
        map_index_template="{{ stream_label }}",
        outlets=[LAKE.bronze],
    )
    def ingest(
        stream: dict,
        params: dict | None = None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        get_current_context()["stream_label"] = steps.stream_label(stream)
        interval = steps.Interval.from_context(data_interval_start, data_interval_end, dag_run)
        return steps.ingest_stream(stream, params, interval)

    @task(pool=steps.POOL)
    def build_silver(params: dict | None = None) -> dict:
        return steps.build_layer("silver", params)

    @task(pool=steps.POOL)
    def validate_silver(
        run_id: str | None = None,
        params: dict | None = None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        interval = steps.Interval.from_context(data_interval_start, data_interval_end, dag_run)
        return steps.validate_layer("silver", params, run_id, interval)

    @task(pool=steps.POOL)
    def build_gold(params: dict | None = None) -> dict:
        return steps.build_layer("gold", params)

    @task(pool=steps.POOL)
    def validate_gold(
        run_id: str | None = None,
        params: dict | None = None,
        data_interval_start=None,
        data_interval_end=None,
        dag_run=None,
    ) -> dict:
        interval = steps.Interval.from_context(data_interval_start, data_interval_end, dag_run)
        return steps.validate_layer("gold", params, run_id, interval)

    @task(pool=steps.POOL, outlets=[LAKE.silver, LAKE.gold])
    def publish(run_id: str | None = None, params: dict | None = None, outlet_events=None) -> dict:
        tables = steps.publish_gold(params, run_id)
        outlet_events[LAKE.silver].extra = {"run_id": run_id}
        outlet_events[LAKE.gold].extra = {"run_id": run_id, "tables": tables}
        return tables

    @task
    def report(ingested: list, published: dict, validated: dict, params: dict | None = None) -> dict:
        return steps.report(ingested, published, validated, params)

    ingested = ingest.expand(stream=streams())
    gold_checked = validate_gold()
    published = publish()
    chain(ingested, build_silver(), validate_silver(), build_gold(), gold_checked, published)
    report(ingested, published, gold_checked)


tweetlake_refresh()
