"""The refresh DAG run for real with ``dag.test()`` on S3 (moto): a run, a rerun, a failed quality gate.

``dag.test()`` runs every task in this process against the test's metadata DB (``tests/fixtures_airflow``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pendulum
import pytest

from foundation.lake import Lake
from foundation.settings import REPO_ROOT, Settings, load_settings
from pipeline.steps import run_ingest, table_counts
from tests.fixtures_airflow import WebhookReceiver
from tests.fixtures_lake import make_bucket

DAG_ID = "tweetlake_refresh"
# The interval 2026-11-20 13:00 .. 14:00 UTC: the sample source generates the day 2026-11-20.
LOGICAL_DATE = pendulum.datetime(2026, 11, 20, 14, 0, tz="UTC")
SAMPLE = {"source": "sample", "sample_tweets": 600, "sample_days": 1}


@pytest.fixture
def task_env() -> Iterator[None]:
    """Tasks run in this process and may export connection values into os.environ: put it back after."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def load_dag():
    """Parse the DAG now, so its assets follow this test's TWEETLAKE_LAKE."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


def task_states(run_id: str) -> dict[str, list[tuple[str, int]]]:
    """task_id -> [(state, try_number)] for every (mapped) task instance of the run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    states: dict[str, list[tuple[str, int]]] = {}
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run_id).all()
        for ti in sorted(tis, key=lambda t: (t.task_id, t.map_index)):
            states.setdefault(ti.task_id, []).append((str(ti.state), ti.try_number))
    return states


def asset_events(run_id: str) -> dict[str, int]:
    """Asset URI -> number of events the run emitted."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=DAG_ID, source_run_id=run_id).all()
        counts: dict[str, int] = {}
        for event in events:
            counts[event.asset.uri] = counts.get(event.asset.uri, 0) + 1
    return counts


def bronze_objects(lake: Lake) -> list[str]:
    lake.fs.invalidate_cache()  # s3fs caches listings
    return list(lake.walk_files("bronze"))


@dataclass
class S3Run:
    """A lake on S3 (moto) refreshed once by ``dag.test()`` for LOGICAL_DATE, and what that left."""

    lake_url: str
    settings: Settings
    run_id: str
    published: dict
    bronze: list[str]
    counts: dict[str, int]

    @property
    def lake(self) -> Lake:
        return Lake.from_settings(self.settings)


@pytest.fixture(scope="module")
def s3_run(airflow_db: str, moto_server: str) -> Iterator[S3Run]:
    """S3 credentials and endpoint come only from the aws_default connection (none in the environment)."""
    saved = dict(os.environ)
    bucket = make_bucket(moto_server)
    lake_url = f"s3://{bucket}/lake"
    for name in ("TWEETLAKE_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.pop(name, None)
    os.environ["TWEETLAKE_LAKE"] = lake_url
    conn = {"conn_type": "aws", "login": "lake-key", "password": "lake-secret"}
    conn["extra"] = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(conn)
    try:
        run = load_dag().test(logical_date=LOGICAL_DATE, run_conf=SAMPLE)
        assert str(run.state) == "success", task_states(run.run_id)
        assert (run.data_interval_start, run.data_interval_end) == (
            LOGICAL_DATE.subtract(hours=1),
            LOGICAL_DATE,
        )
        settings = load_settings({"TWEETLAKE_LAKE": lake_url, "TWEETLAKE_S3_ENDPOINT": moto_server})
        lake = Lake.from_settings(settings)
        yield S3Run(
            lake_url,
            settings,
            run.run_id,
            lake.read_json("gold/_published.json"),
            bronze_objects(lake),
            table_counts(settings),
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.slow
def test_refresh_on_s3_runs_every_step_and_emits_assets(s3_run: S3Run, tmp_path: Path) -> None:
    states = task_states(s3_run.run_id)
    assert [s for s, _ in states["ingest"]] == ["success"] * 3, "two queries and one account, one task each"
    assert all(s == [("success", 1)] for t, s in states.items() if t != "ingest"), states
    lake_url = s3_run.lake_url
    events = asset_events(s3_run.run_id)
    assert events == {f"{lake_url}/bronze": 3, f"{lake_url}/silver": 1, f"{lake_url}/gold": 1}
    assert s3_run.published["tables"] and all(rows > 0 for rows in s3_run.published["tables"].values())
    assert s3_run.bronze and all("ingest_date=2026-11-20" in p for p in s3_run.bronze)
    # every sampled tweet, and the originals its retweets and quotes only include (seen_in 'includes')
    assert s3_run.counts["silver/tweets"] > SAMPLE["sample_tweets"]
    assert s3_run.counts["gold/tweets_export"] == SAMPLE["sample_tweets"]
    # the publish task wrote the lake report, the quality index links it
    lake = s3_run.lake
    assert lake.exists("report/index.html") and lake.exists("report/static/charts/vega.min.js")
    assert b"../report/index.html" in lake.read_bytes("quality/index.html")

    # The mapped ingest tasks together land what `tweetlake ingest` lands for the same day, seed and size.
    cli = load_settings({"TWEETLAKE_LAKE": str(tmp_path / "cli-lake")})
    run_ingest(cli, "sample", tweets=SAMPLE["sample_tweets"], days=1, end_date=date(2026, 11, 20))
    assert bronze_objects(Lake.from_settings(cli)) == s3_run.bronze


@pytest.mark.slow
def test_rerunning_an_interval_gives_the_same_lake(s3_run: S3Run, task_env: None) -> None:
    os.environ.update(
        {"TWEETLAKE_LAKE": s3_run.lake_url, "TWEETLAKE_S3_ENDPOINT": s3_run.settings.s3_endpoint}
    )
    again = load_dag().test(logical_date=LOGICAL_DATE, run_conf=SAMPLE)
    assert str(again.state) == "success", task_states(again.run_id)
    lake = s3_run.lake
    assert bronze_objects(lake) == s3_run.bronze, "rerunning an interval replaces its pages"
    assert table_counts(s3_run.settings) == s3_run.counts, "no duplicates in silver or gold"
    assert lake.read_json("gold/_published.json")["run_id"] != s3_run.published["run_id"]


@pytest.mark.slow
def test_failed_quality_gate_alerts_and_keeps_the_last_good_gold(
    s3_run: S3Run, task_env: None, webhook: WebhookReceiver, tmp_path: Path
) -> None:
    """A tweet with a negative like count reaches silver: the gate fails, nothing is published, we hear it."""
    os.environ.update(
        {"TWEETLAKE_LAKE": s3_run.lake_url, "TWEETLAKE_S3_ENDPOINT": s3_run.settings.s3_endpoint}
    )
    os.environ["AIRFLOW_CONN_TWEETLAKE_ALERTS"] = json.dumps({"conn_type": "http", "password": webhook.url})
    lake = s3_run.lake
    published = lake.read_json("gold/_published.json")
    gold_before = {t: c for t, c in table_counts(s3_run.settings).items() if t.startswith("gold/")}

    bad = tmp_path / "recorded" / "negative_likes.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(bad_page()))
    failed = load_dag().test(
        logical_date=LOGICAL_DATE.add(hours=1),
        run_conf={"source": "replay", "replay_path": str(bad.parent), "allow_mixed_sources": True},
    )
    assert str(failed.state) == "failed"
    states = task_states(failed.run_id)
    assert states["ingest"] == [("success", 1)]
    assert states["validate_silver"] == [("failed", 1)], "a quality failure is not retried (retries=1 there)"
    for task_id in ("build_gold", "validate_gold", "publish", "report"):
        assert states[task_id] == [("upstream_failed", 0)], (task_id, states)
    assert asset_events(failed.run_id) == {f"{s3_run.lake_url}/bronze": 1}, "no silver or gold event"

    assert lake.read_json("gold/_published.json") == published, "the last good gold stays published"
    assert {t: c for t, c in table_counts(s3_run.settings).items() if t.startswith("gold/")} == gold_before

    assert len(webhook.posts) == 1, webhook.posts
    text = webhook.posts[0]["text"]
    assert "tweetlake_refresh.validate_silver failed" in text and failed.run_id in text
    assert "like_count" in text and "AirflowFailException" in text
    assert f"page of silver.tweets: {s3_run.lake_url}/quality/docs/" in text, "it links the table's page"
    assert webhook.paths == ["/hooks/tweetlake"]


def bad_page() -> dict:
    """A recorded search page whose only tweet has like_count -5 (the API never sends that)."""
    tweet_id = "1991234567890123456"
    return {
        "data": [
            {
                "id": tweet_id,
                "text": "a tweet with impossible metrics",
                "created_at": "2026-11-20T14:30:00.000Z",
                "author_id": "2244994945",
                "conversation_id": tweet_id,
                "edit_history_tweet_ids": [tweet_id],
                "lang": "en",
                "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": -5, "quote_count": 0},
            }
        ],
        "includes": {"users": [{"id": "2244994945", "name": "Someone", "username": "someone"}]},
        "meta": {"result_count": 1, "newest_id": tweet_id, "oldest_id": tweet_id},
    }


@pytest.mark.slow
def test_weekly_maintenance_compacts_and_vacuums_the_published_gold(s3_run: S3Run, task_env: None) -> None:
    """The maintenance DAG on the refreshed S3 lake (credentials from aws_default only): every gold Delta
    table maintained, nothing within the 7-day retention removed, gold reads the same after."""
    from airflow.dag_processing.dagbag import DagBag

    from pipeline.query import run_sql

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["tweetlake_maintain"]
    run = dag.test(logical_date=LOGICAL_DATE)
    assert str(run.state) == "success"
    lake = s3_run.lake
    before = s3_run.counts["gold/tweets_export"]
    assert run_sql(lake, "select count(*) from gold.tweets_export").rows == [(before,)]
    assert run_sql(lake, "select count(*) from gold.tweets_export", as_of="0").rows == [(before,)]
    assert lake.exists("gold/tweets_export/_delta_log/_last_checkpoint")  # maintenance checkpointed the log
    assert not lake.exists("_state/lease.json")
