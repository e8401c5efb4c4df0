"""Gold as Delta tables (pipeline.publish, pipeline.versions), on a local lake and on a real S3 API (moto):
every publish is a version with its run and gate run, a bad publish is rolled back (Delta table, Parquet and
CSV exports together), another engine (pandas through delta-rs) reads the tables and their past, and
`tweetlake sql` reads gold's snapshot (now or as of a version) beside silver."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from expectations.suites import load_suites
from foundation import delta
from foundation.lake import Lake
from foundation.settings import Settings
from pipeline import steps
from pipeline.query import run_sql
from pipeline.versions import RollbackRefused
from tests.test_quality_gate import make_contract_lake, run_validation, write_parquet

pytestmark = pytest.mark.slow

TOP = "_staging/gold/top_tweets.parquet"

# every gold model, each a Delta table once published (one suite per table: expectations/suites)
GOLD_TABLES = len(load_suites("gold"))


def published_top(lake: Lake) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(lake.read_bytes("gold/top_tweets.parquet"))).to_pandas()


def delta_top(lake: Lake, version: int | None = None) -> pd.DataFrame:
    """gold.top_tweets as pandas reads it through delta-rs (not DuckDB, not the lake's own code)."""
    uri = lake.url("gold/top_tweets")
    return DeltaTable(uri, version=version, storage_options=delta.storage_options(lake)).to_pandas()


def by_rank(df: pd.DataFrame) -> list[int]:
    return df.sort_values(["day", "stream", "rank"])["like_count"].tolist()


def test_publishes_are_versions_and_a_bad_one_is_rolled_back(lake_settings: Settings) -> None:
    lake = Lake.from_settings(lake_settings)
    make_contract_lake(lake)
    assert run_validation(lake, run_id="gate1").success
    first = steps.run_publish(lake_settings, run_id="pub1")
    assert set(first.versions.values()) == {0} and len(first.versions) == GOLD_TABLES
    # silver is published with it: its Delta tables read by pandas through delta-rs (on S3 too)
    tweets = DeltaTable(lake.url("silver/tweets"), storage_options=delta.storage_options(lake)).to_pandas()
    assert len(tweets) == tweets["tweet_id"].nunique() == 24 and first.silver is not None
    good = by_rank(published_top(lake))

    # a second build's gold, valid but wrong (a bad release): likes inflated by 1000
    top = pq.read_table(io.BytesIO(lake.read_bytes(TOP))).to_pandas()
    top["like_count"] += 1000
    write_parquet(lake, TOP, top)
    assert run_validation(lake, run_id="gate2").success
    steps.run_publish(lake_settings, run_id="pub2")
    bad = by_rank(published_top(lake))
    assert bad == [likes + 1000 for likes in good] and by_rank(delta_top(lake)) == bad

    # `tweetlake sql`: gold's snapshot now and as of the first publish, silver beside it
    now = run_sql(lake, "select sum(like_count) from gold.top_tweets").rows
    then = run_sql(lake, "select sum(like_count) from gold.top_tweets", as_of="0").rows
    assert now == [(sum(bad),)] and then == [(sum(good),)]
    assert run_sql(lake, "select count(*) from silver.tweets").rows == [(24,)]

    history = steps.run_history(lake_settings)
    assert [(v.run_id, v.gate_run, set(v.versions.values())) for v in history] == [
        ("pub2", "gate2", {1}),
        ("pub1", "gate1", {0}),
    ]

    rolled = steps.run_rollback(lake_settings, "pub1", run_id="undo")
    assert rolled.target.run_id == "pub1" and set(rolled.versions.values()) == {2}
    assert by_rank(published_top(lake)) == good  # the Parquet export
    csv = pd.read_csv(io.BytesIO(lake.read_bytes("gold/top_tweets.csv")))
    assert by_rank(csv) == good  # the CSV export
    assert by_rank(delta_top(lake)) == good  # the Delta table's current version
    assert by_rank(delta_top(lake, version=1)) == bad  # the bad version is kept: time travel reads it
    published = lake.read_json("gold/_published.json")
    assert published["run_id"] == "undo" and published["rolled_back_to"] == "pub1"
    assert published["versions"]["top_tweets"] == 2
    newest = steps.run_history(lake_settings)[0]
    assert (newest.run_id, newest.restored_from) == ("undo", "pub1")
    assert "rollback to pub1" in newest.describe()

    # a version number works too: back to the bad release's version 1
    steps.run_rollback(lake_settings, "1", run_id="redo")
    assert by_rank(published_top(lake)) == bad


def test_a_rollback_to_nothing_known_changes_nothing(
    local_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    lake = Lake.from_settings(local_settings)
    assert main(["history", "--lake", lake.root]) == 1
    assert "no gold versions yet" in capsys.readouterr().err
    make_contract_lake(lake)
    assert run_validation(lake, run_id="gate1").success
    steps.run_publish(local_settings, run_id="pub1")
    before = {rel: lake.read_bytes(rel) for rel in lake.walk_files("gold")}

    assert main(["rollback", "--to", "nope", "--lake", lake.root]) == 1
    err = capsys.readouterr().err
    assert "no gold version or run 'nope'" in err and "tweetlake history" in err
    assert main(["rollback", "--to", "7", "--lake", lake.root]) == 1
    assert "have no version 7" in capsys.readouterr().err
    assert {rel: lake.read_bytes(rel) for rel in lake.walk_files("gold")} == before
    # to the version gold is at already: nothing to restore, the exports written again
    assert main(["rollback", "--to", "pub1", "--lake", lake.root]) == 0
    assert "rolled gold back to run pub1" in capsys.readouterr().out
    assert len(steps.run_history(local_settings)) == 1

    assert main(["history", "--lake", lake.root]) == 0
    out = capsys.readouterr().out
    assert "run pub1" in out and f"{GOLD_TABLES} gold table(s)" in out and "gate passed in gate1" in out

    query = "select rank, like_count from gold.top_tweets order by day, stream, rank limit 2"
    assert main(["sql", "--format", "csv", query, "--lake", lake.root]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "rank,like_count" and len(rows) == 3
    assert main(["sql", "select * from gold.nope", "--lake", lake.root]) == 1
    err = capsys.readouterr().err
    assert "the query failed" in err and "gold.top_tweets" in err and "silver.tweets" in err
    assert main(["sql", "--as-of", "5", "select 1", "--lake", lake.root]) == 1
    assert "no gold version or run '5'" in capsys.readouterr().err
    with pytest.raises(RollbackRefused):
        steps.run_rollback(local_settings, "")


def test_maintain_compacts_and_vacuums_only_past_the_retention(
    local_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from deltalake import write_deltalake

    from pipeline.cli import main

    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    assert run_validation(lake, run_id="gate1").success
    for run in ("pub1", "pub2", "pub3"):  # the same validated gold, published three times: versions 0-2
        steps.run_publish(local_settings, run_id=run)
    good = by_rank(published_top(lake))
    # a table of small appended files (as an append-mode writer leaves them)
    for part in range(3):
        write_deltalake(lake.url("gold/extra"), pa.table({"n": [part, part + 10]}), mode="append")

    # the default retention (7 days): nothing a recent version needs is removed; the past stays readable
    assert main(["maintain", "--lake", lake.root]) == 0
    assert "vacuumed" in capsys.readouterr().out
    assert by_rank(delta_top(lake, version=0)) == good
    extra = DeltaTable(lake.url("gold/extra"))
    assert len(extra.file_uris()) == 1 and sorted(extra.to_pyarrow_table()["n"].to_pylist()) == [
        0,
        1,
        2,
        10,
        11,
        12,
    ]

    # a retention of 0 h (asked for): the files of versions 0 and 1 go, the current version reads the same
    summary = steps.run_maintain(local_settings, retention_hours=0)
    assert (
        summary.tables["gold/top_tweets"].files_vacuumed == 2
        and summary.tables["gold/extra"].files_vacuumed == 3
    )
    assert by_rank(delta_top(lake)) == good
    with pytest.raises(Exception, match="(?i)not found|no such file|object at location"):
        delta_top(lake, version=0).shape  # noqa: B018 - reading it is the test
