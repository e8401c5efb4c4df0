"""Batch compliance: jobs run through tweepy against the fake API v2 over real HTTP (create, upload to the
signed URL, poll, download), bronze redacted line by line on the real payload shapes of tests/data/real, and
a deleted post and a suspended user gone from every layer, the reports and the exports, and staying gone
after a full refresh."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from expectations.redact import redact_quality
from foundation import delta
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB, GOLD, SILVER
from foundation.settings import Settings
from ingestion.compliance import ComplianceJobFailed, ComplianceRunner, Events, recorded_events, results_path
from ingestion.ingest import ingest
from ingestion.redact import redact_bronze
from ingestion.sources import make_source
from ingestion.sources.api import ApiSource
from ingestion.sources.replay import ReplaySource
from pipeline import cli, steps
from tests.bronze_reader import bronze
from tests.fake_twitter.fixtures import api_settings, cli_through_fake
from tests.fake_twitter.server import FakeTwitter, make_tweets

REAL = Path(__file__).parent / "data" / "real"
QUERY = "#duckdb lang:en"
CUT = "bronze/source=replay/endpoint=proxy_cut/stream=cut-0000/ingest_date=2026-12-01"
NOW = datetime.now(UTC).replace(microsecond=0)


def settings_for(lake: Path, fake: FakeTwitter, **env: str) -> Settings:
    return api_settings(lake, fake, QUERY, TWEETLAKE_COMPLIANCE_POLL_SECONDS="5", **env)


class Clock:
    """A clock the fake sleeps move: polls and their timeout without waiting."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def runner(settings: Settings, session: requests.Session, clock: Clock, **kw: Any) -> ComplianceRunner:
    source = make_source("api", settings, session=session, sleep=clock.sleep, clock=clock)
    assert isinstance(source, ApiSource)
    return ComplianceRunner(source, Lake(settings.lake), poll_seconds=5, say=lambda _: None, **kw)


# -- the job -------------------------------------------------------------------------------------------------
def test_a_job_is_created_uploaded_polled_and_its_results_land_as_downloaded(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.compliance.events["tweets"] = {"1001": "deleted", "1003": "scrub_geo", "999": "deleted"}
    fake_twitter.compliance.polls = 3
    settings = settings_for(tmp_path / "lake", fake_twitter)
    clock = Clock()
    result = runner(settings, twitter_session, clock).run("tweets", ["1001", "1002", "1003"])

    [create] = [r for r in fake_twitter.sent("/2/compliance/jobs") if r.method == "POST"]
    assert json.loads(create.sent)["type"] == "tweets" and create.authorized
    assert fake_twitter.compliance.uploads[result.job_id] == ["1001", "1002", "1003"]
    # the signed storage URL gets the ids, never the bearer token
    assert all("authorization" not in h for h in fake_twitter.compliance.upload_headers)
    polls = [r for r in fake_twitter.sent(f"/2/compliance/jobs/{result.job_id}")]
    assert len(polls) == 4 and clock.slept == [5, 5, 5, 5]  # in_progress three times, then complete
    assert (result.ids, result.events) == (3, 2)  # only uploaded ids with an event; 999 was never asked
    lake = Lake(settings.lake)
    downloaded = [r for r in fake_twitter.requests if "/_storage/download/" in r.path]
    assert lake.read_bytes(results_path("tweets", result.job_id)) == downloaded[-1].body
    record = lake.read_json(f"_state/compliance/jobs/type=tweets/{result.job_id}.json")
    assert record["status"] == "complete" and not any(k.endswith("_url") for k in record)
    assert not lake.exists("_state/compliance/jobs/type=tweets/pending.json")
    events = recorded_events(lake)
    assert (events.tweets, events.scrub_geo, events.users) == ({"1001"}, {"1003"}, set())


@pytest.mark.parametrize("outcome", ["failed", "expired"])
def test_a_job_that_fails_or_expires_says_so_and_changes_nothing(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path, outcome: str
) -> None:
    fake_twitter.compliance.events["users"] = {"7": "suspended"}
    fake_twitter.compliance.outcome = outcome
    settings = settings_for(tmp_path / "lake", fake_twitter)
    with pytest.raises(ComplianceJobFailed) as failed:
        runner(settings, twitter_session, Clock()).run("users", ["7", "8"])
    message = str(failed.value)
    assert outcome in message and "rerun `tweetlake compliance`" in message and "nothing" in message
    assert "X-Goog-Signature" not in message and fake_twitter.token not in message
    lake = Lake(settings.lake)
    assert lake.glob("_state/compliance/results/**") == [] and not recorded_events(lake)
    assert not lake.exists("_state/compliance/jobs/type=users/pending.json")  # the next run starts afresh


def test_a_job_still_running_at_the_timeout_is_carried_on_by_the_next_run(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.compliance.events["tweets"] = {"1001": "deleted"}
    fake_twitter.compliance.polls = 10
    settings = settings_for(tmp_path / "lake", fake_twitter)
    clock = Clock()
    with pytest.raises(
        ComplianceJobFailed, match="still in_progress after 20 s.*carries on with the same job"
    ):
        runner(settings, twitter_session, clock, timeout_seconds=20).run("tweets", ["1001", "1002"])
    [job_id] = fake_twitter.compliance.jobs
    assert Lake(settings.lake).read_json("_state/compliance/jobs/type=tweets/pending.json")["id"] == job_id

    result = runner(settings, twitter_session, clock).run("tweets", ["1001", "1002"])
    assert result.resumed and result.job_id == job_id and result.events == 1
    assert len([r for r in fake_twitter.sent("/2/compliance/jobs") if r.method == "POST"]) == 1
    assert len(fake_twitter.compliance.uploads) == 1  # uploaded once


def test_a_rate_limited_create_waits_for_the_reset_then_goes_on(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.fail(429, path="/2/compliance/jobs", headers=fake_twitter.rate_limit_reset(60))
    settings = settings_for(tmp_path / "lake", fake_twitter)
    clock = Clock()
    result = runner(settings, twitter_session, clock).run("tweets", ["1001"])
    assert result.events == 0 and any(55 <= s <= 70 for s in clock.slept)


# -- bronze redaction on real shapes -------------------------------------------------------------------------
@pytest.fixture(params=["local", "s3"])
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    return request.getfixturevalue("s3_bucket").lake()  # a moto S3 server: one PUT per rewritten object


def test_redaction_removes_posts_and_users_from_every_real_shape_and_leaves_the_rest_byte_identical(
    any_lake: Lake,
) -> None:
    lake = any_lake
    ingest(ReplaySource(REAL), lake, progress=lambda _: None)
    search = json.loads((REAL / "search_recent.json").read_text())
    # two cut lines, as a proxy that cut pages leaves them (the build sets them aside): one names a removed
    # post, one names none
    page = json.dumps({"envelope": {"source": "replay"}, "response": search}).encode()
    cut_named, cut_other = (
        page[: len(page) // 2],
        b'{"envelope":{"source":"replay"},"response":{"data":[{"id":"42',
    )
    lake.write_bytes(f"{CUT}/cut-00000.jsonl", cut_named + b"\n" + cut_other + b"\n")
    before = {rel: lake.read_bytes(rel) for rel in lake.glob(BRONZE_GLOB)}
    records = readable(lake)
    every = {i for r in records for i in r.tweet_ids}
    flat = [
        json.loads(line) for line in (REAL / "twarc2_flatten.jsonl").read_text().splitlines() if line.strip()
    ]
    single = json.loads((REAL / "tweet_lookup_single.json").read_text())
    gone_post = search["data"][0]["id"]  # in a page
    gone_flat = flat[0]["id"]  # a flattened line: the whole line goes
    gone_ref = flat[0]["referenced_tweets"][0]["id"]  # inlined in that line and others
    scrubbed = next(t["id"] for t in search["data"] if t.get("geo"))
    included = single["includes"]["tweets"][0]["id"]
    events = Events(
        tweets={gone_post, gone_flat, gone_ref, included}, users={"1018524128"}, scrub_geo={scrubbed}
    )

    done = redact_bronze(lake, events, run_id="r1")
    after = {rel: lake.read_bytes(rel) for rel in lake.glob(BRONZE_GLOB)}
    assert done.files_rewritten >= 2 and done.record
    audit = {f["file"]: f for f in lake.read_json(done.record)["files"]}
    for rel, data in before.items():
        if rel not in audit:
            assert after[rel] == data  # untouched objects: byte-identical
            continue
        old, new = data.split(b"\n"), after[rel].split(b"\n")
        changed = set(audit[rel]["lines_rewritten"]) | set(audit[rel]["lines_removed"])
        kept_old = [line for n, line in enumerate(old, 1) if n not in changed]
        assert [line for line in new if line in kept_old] == kept_old  # every other line, byte for byte
        assert len(new) == len(old) - len(audit[rel]["lines_removed"])

    records = readable(lake)
    left = {i for r in records for i in r.tweet_ids}
    assert not left & {gone_post, gone_flat, gone_ref, included}
    assert left == every - {gone_post, gone_flat, gone_ref, included} - _authored_by(before, "1018524128")
    for r in records:
        assert all(u["id"] != "1018524128" for u in (r.response.get("includes") or {}).get("users", []))
        assert all(t["id"] not in events.tweets for t in r.expansions if "text" in t)
        assert all("geo" not in t for t in r.tweets if t["id"] == scrubbed)
    assert any(t["id"] == scrubbed for r in records for t in r.tweets)  # scrubbed, not removed
    # a cut line naming a removed post goes whole (it cannot be read, so nothing of it may stay); the other
    # stays as it was
    assert after[f"{CUT}/cut-00000.jsonl"] == cut_other + b"\n"
    # a second redaction with the same events rewrites nothing
    assert redact_bronze(lake, events, run_id="r2").files_rewritten == 0


def readable(lake: Lake) -> list[Any]:
    """The bronze records of the real shapes (not the cut lines, which no reader takes)."""
    return [
        r
        for endpoint in ("replay", "search_recent", "user_mentions", "user_tweets")
        for r in bronze(lake, endpoint)
    ]


def _authored_by(files: dict[str, bytes], user: str) -> set[str]:
    ids = set()
    for data in files.values():
        for line in data.splitlines():
            try:
                doc = json.loads(line)["response"]
            except (ValueError, KeyError, TypeError):
                continue
            data_ = doc.get("data")
            tweets = data_ if isinstance(data_, list) else [data_] if isinstance(data_, dict) else [doc]
            ids |= {t["id"] for t in tweets if isinstance(t, dict) and t.get("author_id") == user}
    return ids


# -- every layer ---------------------------------------------------------------------------------------------
def _values(con: duckdb.DuckDBPyConnection, url: str) -> set[str]:
    """Every value of every column of the Parquet at ``url``, as text."""
    rel = con.sql(f"select * from read_parquet('{url}', union_by_name = true)")
    found: set[str] = set()
    for row in rel.fetchall():
        found |= {str(v) for v in row if v is not None}
    return found


def _lake_mentions(lake: Lake, needles: set[str]) -> list[str]:
    """The files (lake-relative) holding any of ``needles``: Parquet by value, the rest by bytes."""
    con = duckdb.connect()
    hits = []
    for root in (SILVER, GOLD):
        for rel in lake.walk_files(root):
            if rel.endswith(".parquet") and "/compliance_events/" not in rel:
                if "_delta_log" not in rel and needles & {
                    w for v in _values(con, lake.url(rel)) for w in (v, *v.split())
                }:
                    hits.append(rel)
            elif rel.endswith((".csv", ".json")) and any(n.encode() in lake.read_bytes(rel) for n in needles):
                hits.append(rel)
    for root in ("bronze", "quality", "report"):
        hits += [r for r in lake.walk_files(root) if any(n.encode() in lake.read_bytes(r) for n in needles)]
    return hits


@pytest.mark.slow
def test_a_deleted_post_and_a_suspended_user_are_gone_from_every_layer_and_stay_gone(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.add_user("duckdb", "2244994945")
    fake_twitter.add_user("quacker", "3000000001")
    kept = make_tweets(40, NOW - timedelta(minutes=5), text="ducks and lakes #duckdb")
    theirs = make_tweets(
        6,
        NOW - timedelta(minutes=8),
        author_id="3000000001",
        text="a suspended account's words #duckdb",
        seq=500,
    )
    fake_twitter.search[QUERY] = sorted(kept + theirs, key=lambda t: int(t["id"]), reverse=True)
    deleted = kept[3]
    deleted["text"] = "a post its author deleted, unmistakable zebra words"
    settings = settings_for(tmp_path / "lake", fake_twitter)
    options: dict[str, Any] = {"session": twitter_session, "sleep": lambda _: None}
    steps.run_ingest(settings, "api", **options)
    steps.run_build(settings)
    steps.run_validate(settings)
    steps.run_publish(settings)
    lake = Lake(settings.lake)
    needles = {deleted["id"], "zebra", "3000000001", *(t["id"] for t in theirs)}
    assert _lake_mentions(lake, needles)  # they are there to begin with (else the test proves nothing)
    before = {rel: lake.read_bytes(rel) for rel in lake.glob(BRONZE_GLOB)}

    fake_twitter.compliance.events = {
        "tweets": {deleted["id"]: "deleted"},
        "users": {"3000000001": "suspended"},
    }
    summary = steps.run_compliance(settings, **options)
    assert [(j.kind, j.events) for j in summary.jobs] == [("tweets", 1), ("users", 1)]
    assert summary.rebuilt and summary.redaction.files_rewritten == 1
    assert summary.redaction.tweets_removed == 1 + len(theirs)
    uploaded = sorted(fake_twitter.compliance.uploads.values(), key=len)
    assert sorted(uploaded[-1]) == sorted(t["id"] for t in kept + theirs)  # every post of silver checked

    hits = _lake_mentions(lake, needles)
    assert hits == [], hits
    # silver.compliance_events keeps the ids and what happened, nothing else
    con = duckdb.connect()
    events = con.sql(
        "select id_type, id, action, reason "
        f"from read_parquet('{lake.url(SILVER, 'compliance_events')}/*.parquet') order by 1"
    ).fetchall()
    assert events == [
        ("tweets", deleted["id"], "delete", "deleted"),
        ("users", "3000000001", "delete", "suspended"),
    ]
    # every other bronze line as it was
    for rel, data in before.items():
        left = lake.read_bytes(rel).split(b"\n")
        assert sum(line in left for line in data.split(b"\n")) >= len(data.split(b"\n")) - 1
    # the CSV export: every kept post of the collected stream, none of the suspended account's
    exported = con.sql(f"select user, text from read_csv('{lake.url(GOLD, 'tweets_export.csv')}')").fetchall()
    assert len(exported) == len(kept) - 1 and {u for u, _ in exported} == {"duckdb"}
    # gold's older versions, which held them, are purged: time travel reaches only the redacted version
    table = delta.open_table(lake, "gold/top_tweets")
    assert len(table.history()) <= 3 and needles.isdisjoint(
        str(v) for row in table.to_pyarrow_table().to_pylist() for v in row.values()
    )

    # history lists what is left: the versions published since, none holding what was removed
    assert [v.run_id for v in steps.run_history(settings)][0] == summary.run_id

    # the same window ingested again brings them back into bronze: the next build (here a full refresh from
    # all of bronze) removes them first, and what it rebuilds holds none of them
    window = {"start_time": NOW - timedelta(days=1), "end_time": NOW - timedelta(seconds=10)}
    again_in = steps.run_ingest(settings, "api", **options, **window)
    assert again_in.tweets == len(kept) + len(theirs)
    steps.run_build(settings, full_refresh=True)
    steps.run_validate(settings)
    steps.run_publish(settings)
    assert _lake_mentions(lake, needles) == []
    # and the next compliance run has nothing left to remove
    again = steps.run_compliance(settings, **options)
    assert not again.rebuilt and again.redaction.files_rewritten == 0


def test_the_quality_records_and_docs_lose_what_names_a_removed_id(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rows = [
        {"tweet_id": "1001", "text": "gone words", "bronze": {"file": "f", "line": 3}},
        {"tweet_id": "1002"},
    ]
    lake.write_json("quality/runs/r1.json", {"failures": [{"suite": "silver.tweets", "rows": rows}]})
    lake.write_json(
        "quality/runs/r2.json", {"failures": [{"suite": "silver.users", "rows": [{"user_id": "7"}]}]}
    )
    lake.write_bytes("quality/docs/validations/v.html", b"<td>1001</td><td>10012</td><td>1001</td>")
    lake.write_bytes("quality/docs/validations/w.html", b"<td>42</td>")
    untouched = lake.read_bytes("quality/runs/r2.json")

    done = redact_quality(lake, {"1001"})
    assert (done.records, done.rows_dropped, done.docs) == (1, 1, 1)
    [failure] = lake.read_json("quality/runs/r1.json")["failures"]
    assert failure["rows"] == [{"tweet_id": "1002"}] and failure["suite"] == "silver.tweets"
    assert (
        lake.read_bytes("quality/docs/validations/v.html")
        == b"<td>[removed]</td><td>10012</td><td>[removed]</td>"
    )
    assert lake.read_bytes("quality/runs/r2.json") == untouched


def test_the_command_exits_1_naming_a_failed_job(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    target = tmp_path / "lake" / "_staging" / "silver" / "tweets" / "dt=2026-12-01"
    target.mkdir(parents=True)
    duckdb.sql(f"copy (select '1001' as tweet_id) to '{target}/data_0.parquet'")
    fake_twitter.compliance.outcome = "failed"
    cli_through_fake(monkeypatch, fake_twitter, twitter_session, "run_compliance")
    monkeypatch.setenv("TWEETLAKE_COMPLIANCE_POLL_SECONDS", "0.01")
    code = cli.main(["compliance", "--lake", lake.root, "--type", "tweets"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "compliance job" in err and "ended failed" in err and "Traceback" not in err
    assert fake_twitter.compliance.uploads and list(fake_twitter.compliance.uploads.values())[0] == ["1001"]
    assert lake.glob("bronze/**") == [] and lake.glob("_state/compliance/results/**") == []


def test_a_rebuild_that_failed_is_done_by_the_next_run_though_bronze_is_already_redacted(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    from pipeline.compliance import REBUILD_PENDING, run_compliance

    settings = settings_for(tmp_path / "lake", fake_twitter)
    lake = Lake(settings.lake)
    page = {
        "data": [{"id": "1001", "text": "gone"}, {"id": "1002", "text": "kept"}],
        "meta": {"result_count": 2},
    }
    rel = "bronze/source=api/endpoint=search_recent/stream=q-0000/ingest_date=2026-12-01/r-00000.jsonl"
    lake.write_bytes(rel, json.dumps({"envelope": {"source": "api"}, "response": page}).encode() + b"\n")
    target = tmp_path / "lake" / "_staging" / "silver" / "tweets" / "dt=2026-12-01"
    target.mkdir(parents=True)
    duckdb.sql(f"copy (select unnest(['1001', '1002']) as tweet_id) to '{target}/data_0.parquet'")
    fake_twitter.compliance.events["tweets"] = {"1001": "deleted"}
    rebuilds: list[str] = []

    def failing(run_id: str) -> None:
        rebuilds.append(run_id)
        raise RuntimeError("the quality gate failed")  # as a rebuild whose gate fails raises

    options: dict[str, Any] = {"session": twitter_session, "sleep": lambda _: None, "types": ("tweets",)}
    with pytest.raises(RuntimeError):
        run_compliance(settings, rebuild=failing, **options)
    assert b"1001" not in lake.read_bytes(rel) and lake.exists(REBUILD_PENDING)

    done = run_compliance(settings, rebuild=rebuilds.append, keep_history=True, **options)
    assert done.redaction.files_rewritten == 0 and done.rebuilt and len(rebuilds) == 2  # rebuilt anyway
    assert not lake.exists(REBUILD_PENDING)
    again = run_compliance(settings, rebuild=rebuilds.append, keep_history=True, **options)
    assert not again.rebuilt and len(rebuilds) == 2
