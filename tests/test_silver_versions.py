"""Silver as Delta tables (pipeline.silver, pipeline.versions), write-audit-publish on silver, on a local lake
and on a real S3 API (moto): built in _staging/silver, published by partition, read by another engine
(pandas through delta-rs), refused when its gate failed, rolled back.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from deltalake import DeltaTable

from expectations.validate import PublishRefused, QualityGateFailed
from foundation import delta
from foundation.lake import Lake
from foundation.layout import STAGING_SILVER
from foundation.settings import Settings
from pipeline import steps
from pipeline.query import run_sql

pytestmark = pytest.mark.slow


def silver_frame(lake: Lake, table: str, version: int | None = None) -> pd.DataFrame:
    """A silver table as pandas reads it through delta-rs: not DuckDB, not the lake's own code."""
    uri = lake.url("silver", table)
    return DeltaTable(uri, version=version, storage_options=delta.storage_options(lake)).to_pandas()


def delta_files(lake: Lake, table: str) -> set[str]:
    return set(delta.open_table(lake, f"silver/{table}").file_uris())


def refresh_day(settings: Settings, day: date, tweets: int = 300) -> steps.RefreshSummary:
    return steps.refresh(settings, source_options={"tweets": tweets, "days": 1, "end_date": day})


def test_silver_is_published_by_partition_and_read_by_another_engine(local_settings: Settings) -> None:
    # local only: the same publish on S3, read by pandas through delta-rs, is in tests/test_gold_versions.py
    lake_settings = local_settings
    lake = Lake.from_settings(lake_settings)
    steps.refresh(lake_settings, source_options={"tweets": 600, "days": 3, "end_date": date(2026, 11, 19)})
    tweets = silver_frame(lake, "tweets")
    staged = run_sql(
        lake, f"select count(*) from read_parquet('{lake.url(STAGING_SILVER)}/tweets/*/*.parquet')"
    )
    assert len(tweets) == tweets["tweet_id"].nunique() == staged.rows[0][0] > 600
    assert set(silver_frame(lake, "users")["user_id"]) >= set(tweets["author_id"].dropna())
    first = delta_files(lake, "tweets")
    days_before = set(tweets["dt"].astype(str))

    # one more day: only the partitions it touched get new files; the others are the same files
    summary = refresh_day(lake_settings, date(2026, 11, 20))
    assert summary.publish is not None and summary.publish.silver is not None
    assert summary.publish.silver.partitions["tweets"] >= 1
    now = delta_files(lake, "tweets")
    kept = {f for f in first if "dt=2026-11-17" in f}
    assert kept and kept <= now, "an untouched partition was rewritten"
    tweets = silver_frame(lake, "tweets")
    assert "2026-11-20" in set(tweets["dt"].astype(str)) and days_before <= set(tweets["dt"].astype(str))
    assert len(tweets) == tweets["tweet_id"].nunique()
    assert run_sql(lake, "select count(*) from silver.tweets").rows == [(len(tweets),)]
    # the first version is still readable (time travel), and by the run that published it
    assert len(silver_frame(lake, "tweets", version=0)) < len(tweets)
    [newest, older, *_] = steps.run_history(lake_settings)
    assert newest.silver["tweets"] == 1 and older.silver["tweets"] == 0
    then = run_sql(lake, "select count(*) from silver.tweets", as_of=older.run_id).rows
    assert then == [(len(silver_frame(lake, "tweets", version=0)),)]


def test_a_failed_silver_gate_publishes_nothing_and_readers_see_the_last_good_version(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    lake = Lake.from_settings(local_settings)
    refresh_day(local_settings, date(2026, 11, 19))
    good = silver_frame(lake, "tweets")
    versions = {t: delta.open_table(lake, f"silver/{t}").version() for t in ("tweets", "users")}

    # the next build stages bad silver (a tweet with negative likes): readers still see the published one
    steps.run_ingest(local_settings, "sample", tweets=300, days=1, end_date=date(2026, 11, 20))
    steps.run_build(local_settings)
    assert len(silver_frame(lake, "tweets")) == len(good)  # a reader during the build: the last version
    staged = sorted(lake.glob(f"{STAGING_SILVER}/tweets/dt=2026-11-20/*.parquet"))
    con_sql = (
        f"copy (select * replace (-5 as like_count) from read_parquet('{lake.url(staged[0])}')) "
        f"to '{lake.url(staged[0])}.new' (format parquet)"
    )
    import duckdb

    duckdb.sql(con_sql)
    import os

    os.replace(lake.url(staged[0]) + ".new", lake.url(staged[0]))
    with pytest.raises(QualityGateFailed):
        steps.run_validate(local_settings, run_id="bad")

    assert main(["publish", "--lake", lake.root]) == 3
    err = capsys.readouterr().err
    assert "staged silver" in err and "failed its quality gate in run bad" in err
    assert {t: delta.open_table(lake, f"silver/{t}").version() for t in versions} == versions
    assert silver_frame(lake, "tweets")["tweet_id"].tolist() == good["tweet_id"].tolist()

    # validated again after a change: refused too (the gate passed other files)
    steps.run_build(local_settings, full_refresh=True)
    steps.run_validate(local_settings, run_id="good")
    staged = sorted(lake.glob(f"{STAGING_SILVER}/users/*.parquet"))
    lake.write_bytes(staged[0], lake.read_bytes(staged[0]))  # same bytes, a new file: not what passed
    with pytest.raises(PublishRefused, match="changed after the gate of run good"):
        steps.run_publish(local_settings)
    assert {t: delta.open_table(lake, f"silver/{t}").version() for t in versions} == versions


def test_a_bad_silver_publish_is_rolled_back(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    first = refresh_day(local_settings, date(2026, 11, 19))
    good = silver_frame(lake, "tweets")
    refresh_day(local_settings, date(2026, 11, 20))
    assert len(silver_frame(lake, "tweets")) > len(good)

    rolled = steps.run_rollback(local_settings, first.run_id, run_id="undo", layers=("silver",))
    assert rolled.silver["tweets"] == 2 and not rolled.tables  # gold left as it is
    back = silver_frame(lake, "tweets")
    assert sorted(back["tweet_id"]) == sorted(good["tweet_id"])
    assert run_sql(lake, "select count(*) from silver.tweets").rows == [(len(good),)]
    newest = steps.run_history(local_settings)[0]
    assert (newest.run_id, newest.restored_from) == ("undo", first.run_id)

    # the next publish commits the staged tables whole again, from what its gate passed
    steps.run_validate(local_settings, run_id="again")
    again = steps.run_publish(local_settings, run_id="again")
    assert again.silver is not None and again.silver.partitions["tweets"] == 0
    assert len(silver_frame(lake, "tweets")) > len(good)
