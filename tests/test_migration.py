"""A lake written by an earlier release (tests/data/lakes/) taken over by this one on its first build:
bronze untouched, silver kept and completed, silver and gold published as Delta tables through the gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from foundation import delta
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB
from foundation.settings import load_settings
from pipeline import steps
from pipeline.query import silver_tables
from pipeline.versions import gold_tables
from tests.bronze_reader import bronze, bronze_tweet_ids

LAKES = Path(__file__).parent / "data" / "lakes"


def silver_ids(lake: Lake) -> set[str]:
    """silver.tweets' ids: of its plain Parquet files (an old lake), else of its Delta table's snapshot."""
    if not lake.exists("silver/tweets/_delta_log"):
        url = lake.url("silver", "tweets")
        return {
            r[0] for r in duckdb.sql(f"select tweet_id from read_parquet('{url}/*/*.parquet')").fetchall()
        }
    return set(delta.open_table(lake, "silver/tweets").to_pandas(columns=["tweet_id"])["tweet_id"])


@pytest.mark.slow
@pytest.mark.parametrize("written_by", ["pre-delta-40a2ee2"])
def test_a_lake_of_an_earlier_release_migrates_on_its_first_build(written_by: str, tmp_path: Path) -> None:
    shutil.copytree(LAKES / written_by, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    settings = load_settings({"TWEETLAKE_LAKE": lake.root, "TWEETLAKE_WORK_DIR": str(tmp_path / "work")})
    bronze_before = {rel: lake.read_bytes(rel) for rel in lake.glob(BRONZE_GLOB)}
    tables_before = set(silver_tables(lake))
    ids_before = silver_ids(lake)
    assert ids_before == bronze_tweet_ids(lake)  # the fixture is a consistent lake to begin with
    old_gold = set(gold_tables(lake))
    # the reference time of freshness: when the fixture's pages were fetched (it does not age in the repo)
    as_of = max(r.envelope["fetched_at"] for r in bronze(lake))

    steps.run_build(settings)
    steps.run_validate(settings, as_of=as_of)
    # until the first publish, readers keep the old plain silver
    assert set(silver_tables(lake).values()) == {"parquet"} and silver_ids(lake) == ids_before
    published = steps.run_publish(settings)

    assert {rel: lake.read_bytes(rel) for rel in lake.glob(BRONZE_GLOB)} == bronze_before  # untouched
    assert silver_ids(lake) == ids_before  # nothing lost, nothing doubled
    assert tables_before <= set(silver_tables(lake))  # every old table still there
    assert set(silver_tables(lake).values()) == {"delta"}  # each a Delta table now
    assert not lake.glob("silver/*/*/data_0.parquet") + lake.glob("silver/*/data_0.parquet")  # plain gone
    assert "compliance_events" in silver_tables(lake)  # a table the old release did not have, built
    for table in silver_tables(lake):
        commit = delta.open_table(lake, f"silver/{table}").history(1)[0]
        assert commit.get(delta.RUN_ID) == published.run_id, table
    now_gold = gold_tables(lake)
    assert len(now_gold) >= 7 and set(now_gold) >= old_gold
    for table in now_gold:  # every gold table a Delta table, its current version this publish's
        commit = delta.open_table(lake, f"gold/{table}").history(1)[0]
        assert commit.get(delta.RUN_ID) == published.run_id, table
    record = json.loads(lake.read_bytes("gold/_published.json"))
    assert record["run_id"] == published.run_id
    exported = duckdb.sql(f"select count(*) from read_parquet('{lake.url('gold', 'tweets_export.parquet')}')")
    assert exported.fetchall() == [(len(bronze_tweet_ids(lake, expansions=False)),)]
    [latest, *_] = steps.run_history(settings)
    assert latest.run_id == published.run_id
