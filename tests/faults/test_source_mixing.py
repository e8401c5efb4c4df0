"""Generated tweets never mix into a real lake (issue 17, "Data").

The sample source refuses a lake that holds ``api`` (or ``replay``) pages, real sources refuse a lake of
generated ones, both unless forced, with a message naming the flag; the refresh DAG without a source setting
fails saying what to set instead of generating tweets. Real components: the CLI in-process
(:func:`pipeline.cli.main`), tweepy over HTTP to the fake API, the moto S3 server, the DAG's task functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from foundation.lake import Lake
from foundation.layout import LEASE
from foundation.settings import Secret, Settings
from pipeline import cli
from pipeline.steps import run_ingest
from tests.fake_twitter.server import FakeTwitter, make_tweets
from tests.fixtures_s3 import S3Bucket

QUERY = "#duckdb lang:en"
NOW = datetime.now(UTC).replace(microsecond=0)
SAMPLE = ("--tweets", "40", "--days", "1", "--end-date", "2026-11-20")
REPLAY = Path(__file__).parent.parent / "data" / "replay"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def everything(lake: Lake) -> dict[str, bytes]:
    """Every file of the lake and its bytes: "nothing changed" means exactly this is equal. Except the
    lease's lock file: refresh takes (and gives back) the lake's lease before its ingest refuses."""
    lake.fs.invalidate_cache()
    return {rel: lake.read_bytes(rel) for rel in lake.walk_files("") if not rel.startswith(LEASE)}


def sources_of(lake: Lake) -> set[str]:
    lake.fs.invalidate_cache()
    return {rel.split("/")[1] for rel in lake.glob("bronze/source=*")}


def api_settings(lake: Lake, fake: FakeTwitter) -> Settings:
    return Settings(
        lake=lake.root,
        s3_endpoint=lake.s3_endpoint,
        queries=(QUERY,),
        accounts=(),
        bearer_token=Secret(fake.token),
        request_timeout=5.0,
    )


def api_ingest(lake: Lake, fake: FakeTwitter, session: requests.Session, **flags: bool) -> None:
    """The API source for real: tweepy over HTTP to the fake API, through the same step as the CLI."""
    run_ingest(api_settings(lake, fake), "api", session=session, sleep=lambda _: None, **flags)


@pytest.fixture
def api_lake(
    tmp_path: Path, fake_twitter: FakeTwitter, twitter_session: requests.Session
) -> tuple[Lake, FakeTwitter, requests.Session]:
    """A local lake holding real pages (``bronze/source=api``) from the fake API."""
    fake_twitter.search[QUERY] = make_tweets(30, NOW - timedelta(hours=1))
    lake = Lake(str(tmp_path / "lake"))
    api_ingest(lake, fake_twitter, twitter_session)
    assert sources_of(lake) == {"source=api"}
    return lake, fake_twitter, twitter_session


@pytest.mark.parametrize("command", ["ingest", "refresh"])
def test_sample_refuses_a_lake_of_api_pages_unless_forced(
    capsys: pytest.CaptureFixture[str], api_lake: tuple[Lake, FakeTwitter, requests.Session], command: str
) -> None:
    lake, _, _ = api_lake
    before = everything(lake)
    # --source sample is also the CLI's default: the refusal must not depend on spelling it out
    code, _, err = run(capsys, command, "--lake", lake.root, *SAMPLE)
    assert code == cli.EXIT_CONFIG, err
    assert "bronze/source=api" in err and "generated" in err, err
    assert "--allow-mixed-sources" in err and "--lake" in err, "the message names the way out"
    assert "Traceback" not in err
    assert everything(lake) == before, "a refused ingest writes nothing: no page, journal, watermark"

    code, out, err = run(capsys, "ingest", "--lake", lake.root, *SAMPLE, "--allow-mixed-sources")
    assert code == cli.EXIT_OK, err
    assert out.startswith("ingested 40 tweets")
    assert sources_of(lake) == {"source=api", "source=sample"}
    assert all(lake.read_bytes(rel) == data for rel, data in before.items()), "the real pages are intact"


def test_api_refuses_a_lake_of_sample_pages_before_fetching_anything(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
) -> None:
    from ingestion.mixing import SourcesWouldMix

    lake = Lake(str(tmp_path / "lake"))
    code, _, err = run(capsys, "ingest", "--lake", lake.root, *SAMPLE)
    assert code == cli.EXIT_OK, err
    fake_twitter.search[QUERY] = make_tweets(30, NOW - timedelta(hours=1))
    before = everything(lake)

    with pytest.raises(SourcesWouldMix) as refused:
        api_ingest(lake, fake_twitter, twitter_session)
    message = str(refused.value)
    assert "generated sample tweets" in message and "bronze/source=sample" in message
    assert "--allow-mixed-sources" in message
    assert fake_twitter.requests == [], "refused before the first request: no quota spent on pages to drop"
    assert everything(lake) == before

    api_ingest(lake, fake_twitter, twitter_session, allow_mixed_sources=True)
    assert sources_of(lake) == {"source=api", "source=sample"}


def test_replay_into_a_sample_lake_on_s3_is_refused_and_replay_beside_api_is_not(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    s3_bucket: S3Bucket,
    api_lake: tuple[Lake, FakeTwitter, requests.Session],
) -> None:
    monkeypatch.setenv("TWEETLAKE_S3_ENDPOINT", s3_bucket.endpoint)
    s3 = s3_bucket.lake()
    code, _, err = run(capsys, "ingest", "--lake", s3.root, *SAMPLE)
    assert code == cli.EXIT_OK, err
    before = everything(s3)
    code, _, err = run(capsys, "ingest", "--lake", s3.root, "--source", "replay", "--path", str(REPLAY))
    assert code == cli.EXIT_CONFIG, err
    assert "bronze/source=sample" in err and "--allow-mixed-sources" in err
    assert everything(s3) == before

    # Recorded API pages beside live ones are both real: no refusal, no flag needed.
    real, _, _ = api_lake
    code, _, err = run(capsys, "ingest", "--lake", real.root, "--source", "replay", "--path", str(REPLAY))
    assert code == cli.EXIT_OK, err
    assert sources_of(real) == {"source=api", "source=replay"}


# -- the DAG ------------------------------------------------------------------------------------------------
def test_the_dag_without_a_source_setting_generates_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowFailException

    from foundation.settings import REPO_ROOT
    from orchestration.refresh import Interval, ingest_stream, plan_streams

    lake = Lake(str(tmp_path / "lake"))
    monkeypatch.setenv("TWEETLAKE_LAKE", lake.root)
    monkeypatch.delenv("TWEETLAKE_SOURCE", raising=False)
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["tweetlake_refresh"]
    params = dag.params.validate()  # what a scheduled run gets: the defaults
    assert params["source"] is None

    with pytest.raises(AirflowFailException) as no_source:
        plan_streams(params)  # the run's first task
    assert "TWEETLAKE_SOURCE" in str(no_source.value) and "param source" in str(no_source.value)
    interval = Interval.from_context(NOW - timedelta(hours=1), NOW)
    with pytest.raises(AirflowFailException, match="TWEETLAKE_SOURCE"):
        ingest_stream({"kind": "query", "name": QUERY}, params, interval)  # even if it ran anyway
    assert not Path(lake.root).exists() or not any(Path(lake.root).rglob("*.jsonl")), "no generated tweets"

    # Choosing the sample source is still one setting away (the local `make airflow` sets it).
    monkeypatch.setenv("TWEETLAKE_SOURCE", "sample")
    chosen = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["tweetlake_refresh"]
    assert chosen.params.validate()["source"] == "sample"


def test_the_dags_sample_ingest_refuses_a_real_lake_naming_the_run_param(
    monkeypatch: pytest.MonkeyPatch, api_lake: tuple[Lake, FakeTwitter, requests.Session]
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from orchestration.refresh import Interval, ingest_stream

    lake, _, _ = api_lake
    monkeypatch.setenv("TWEETLAKE_LAKE", lake.root)
    monkeypatch.setenv("TWEETLAKE_QUERIES", QUERY)
    monkeypatch.setenv("TWEETLAKE_ACCOUNTS", "")
    before = everything(lake)
    params = {"source": "sample", "sample_tweets": 30, "sample_days": 1, "sample_seed": 1}
    interval = Interval.from_context(NOW - timedelta(hours=1), NOW)
    stream = {"kind": "query", "name": QUERY}
    # AirflowFailException: a wrong lake is not transient, so the task fails at once, without retries
    with pytest.raises(AirflowFailException, match="allow_mixed_sources=true") as refused:
        ingest_stream(stream, params, interval)
    assert "bronze/source=api" in str(refused.value)
    assert everything(lake) == before

    done = ingest_stream(stream, {**params, "allow_mixed_sources": True}, interval)
    assert done["tweets"] > 0 and sources_of(lake) == {"source=api", "source=sample"}
