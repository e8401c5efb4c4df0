"""The incremental validation state: which files a run re-reads, what ``quality/_state/validated.json``
keeps, and how the tables' files and fingerprints are found (small Parquet files in a tmp lake)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations import state
from expectations.suites import SuiteFile
from expectations.tables import Table, find_table
from foundation.lake import Lake

NOT_AFTER = "2026-11-20T23:05:00+00:00"


def suite(*row_kwargs: dict[str, Any], table_types: tuple[str, ...] = ()) -> SuiteFile:
    expectations = [{"type": "expect_column_values_to_be_between", "kwargs": k} for k in row_kwargs]
    expectations += [{"type": t, "kwargs": {"column": "tweet_id"}} for t in table_types]
    return SuiteFile("silver.tweets", "silver", "tweets", {"expectations": expectations})


ROWS = {"column": "like_count", "min_value": 0}
FUTURE = {"column": "created_at", "max_value": "$not_after"}


def table(s: SuiteFile, prints: dict[str, str]) -> Table:
    return Table(s, "lake/_staging/silver/tweets", sorted(prints), dict(prints))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def write(lake: Lake, rel: str, rows: int) -> None:
    path = lake.url(rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table({"tweet_id": [str(i) for i in range(rows)]}), path)


def test_a_passing_run_state_reads_only_new_or_changed_files() -> None:
    s = suite(ROWS, FUTURE)
    before = table(
        s,
        {
            "_staging/silver/tweets/dt=2026-11-19/data_0.parquet": "10:1",
            "_staging/silver/tweets/dt=2026-11-20/data_0.parquet": "20:1",
        },
    )
    seen = state.entry(before, NOT_AFTER)
    assert state.unvalidated(before, seen, NOT_AFTER) == []
    now = table(
        s,
        {
            "_staging/silver/tweets/dt=2026-11-19/data_0.parquet": "10:1",  # unchanged
            "_staging/silver/tweets/dt=2026-11-20/data_0.parquet": "25:2",  # rebuilt partition
            "_staging/silver/tweets/dt=2026-11-21/data_0.parquet": "5:2",  # new partition
        },
    )
    assert state.unvalidated(now, seen, NOT_AFTER) == [
        "_staging/silver/tweets/dt=2026-11-20/data_0.parquet",
        "_staging/silver/tweets/dt=2026-11-21/data_0.parquet",
    ]


def test_every_file_is_read_again_when_the_bounds_or_the_row_expectations_change() -> None:
    s = suite(ROWS, FUTURE)
    t = table(s, {"a.parquet": "1:1", "b.parquet": "2:1"})
    seen = state.entry(t, NOT_AFTER)
    assert state.unvalidated(t, seen, "2026-11-21T00:00:00+00:00") == []  # a later $not_after only widens
    assert state.unvalidated(t, seen, "2026-11-20T12:00:00+00:00") == t.files  # an earlier one: all again
    edited = table(suite({**ROWS, "min_value": 1}, FUTURE), dict(t.fingerprints))
    assert state.unvalidated(edited, seen, NOT_AFTER) == t.files
    for broken in (None, [], {"rows": seen["rows"]}, {**seen, "not_after": None}):
        assert state.unvalidated(t, broken, NOT_AFTER) == t.files, broken


def test_a_row_expectation_with_another_placeholder_always_reads_every_file() -> None:
    t = table(suite(ROWS, {"column": "created_at", "min_value": "$fresh_after"}), {"a.parquet": "1:1"})
    assert state.unvalidated(t, state.entry(t, NOT_AFTER), NOT_AFTER) == ["a.parquet"]


def test_rows_key_is_the_row_expectations_as_written_only() -> None:
    base = state.rows_key(suite(ROWS, FUTURE))
    assert base == state.rows_key(suite(ROWS, FUTURE))
    assert base == state.rows_key(suite(ROWS, FUTURE, table_types=("expect_column_values_to_be_unique",)))
    assert base != state.rows_key(suite(FUTURE, {**ROWS, "mostly": 0.9}))


def test_validated_json_keeps_the_suites_that_passed_and_the_others_as_they_were(lake: Lake) -> None:
    assert state.load(lake) == {}
    t = table(suite(ROWS), {"a.parquet": "1:1"})
    state.save(lake, {}, {"silver.tweets": state.entry(t, NOT_AFTER)})
    kept = state.load(lake)
    assert kept == {
        "silver.tweets": {
            "files": {"a.parquet": "1:1"},
            "rows": state.rows_key(t.suite),
            "not_after": NOT_AFTER,
        }
    }
    state.save(lake, kept, {"silver.users": {"files": {}, "rows": "x", "not_after": NOT_AFTER}})
    assert set(state.load(lake)) == {"silver.tweets", "silver.users"}
    assert lake.exists(state.STATE) and state.STATE == "quality/_state/validated.json"


def test_find_table_lists_the_built_files_and_a_rewrite_changes_the_fingerprint(lake: Lake) -> None:
    write(lake, "_staging/silver/tweets/dt=2026-11-19/data_0.parquet", 3)
    write(lake, "_staging/silver/tweets/dt=2026-11-20/data_0.parquet", 4)
    write(lake, "_staging/silver/tweets/dt=2026-11-20/_scratch.parquet", 1)  # not a table file
    write(lake, "_staging/silver/tweets/.tmp-data_0.parquet", 1)
    s = SuiteFile("silver.tweets", "silver", "tweets", {"expectations": []})
    first = find_table(lake, s, None)
    assert first.files == [
        "_staging/silver/tweets/dt=2026-11-19/data_0.parquet",
        "_staging/silver/tweets/dt=2026-11-20/data_0.parquet",
    ]
    seen = {"files": first.fingerprints, "rows": state.rows_key(s), "not_after": NOT_AFTER}
    write(lake, "_staging/silver/tweets/dt=2026-11-20/data_0.parquet", 40)
    again = find_table(lake, s, None)
    assert state.unvalidated(again, seen, NOT_AFTER) == [
        "_staging/silver/tweets/dt=2026-11-20/data_0.parquet"
    ]
    gold = SuiteFile("gold.top_tweets", "gold", "top_tweets", {"expectations": []})
    assert find_table(lake, gold, lake.url("_staging/gold")).files == []
    write(lake, "_staging/gold/top_tweets.parquet", 2)
    assert find_table(lake, gold, lake.url("_staging/gold")).files == ["_staging/gold/top_tweets.parquet"]
