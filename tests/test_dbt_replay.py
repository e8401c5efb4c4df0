"""Recorded API pages (twarc2 archives, timelines, searches with partial errors) go through dbt losslessly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from foundation.lake import Lake
from foundation.settings import Settings
from pipeline.steps import run_build, run_ingest
from tests.bronze_reader import bronze, bronze_tweet_ids

pytestmark = pytest.mark.slow
REPLAY = Path(__file__).parent / "data" / "replay"


def test_recorded_pages_reach_silver_without_loss(local_settings: Settings) -> None:
    run_ingest(local_settings, "replay", path=str(REPLAY))
    run_build(local_settings)
    lake = Lake.from_settings(local_settings)
    ids = bronze_tweet_ids(lake)
    assert ids
    con = duckdb.connect()
    rows = con.execute(
        "select tweet_id, author_username from "
        f"read_parquet('{lake.url('_staging/silver', 'tweets')}/*/*.parquet')"
    ).fetchall()
    assert len(rows) == len({r[0] for r in rows}) == len(ids)
    assert {r[0] for r in rows} == ids
    # authors are found in the same page's includes.users whenever every page with the tweet carries them
    found: dict[str, bool] = {}
    for rec in bronze(lake):
        users = {u["id"] for u in (rec.response.get("includes") or {}).get("users") or []}
        for t in rec.tweets:
            found[t["id"]] = found.get(t["id"], True) and t.get("author_id") in users
    with_author = {r[0] for r in rows if r[1] is not None}
    assert {tid for tid, ok in found.items() if ok} <= with_author
    assert with_author
    errors = sum(len(rec.response.get("errors") or []) for rec in bronze(lake))
    got = con.execute(
        f"select count(*) from read_parquet('{lake.url('_staging/silver', 'api_errors')}/*.parquet') "
        "where error_key is not null"
    ).fetchone()[0]
    assert got == errors
