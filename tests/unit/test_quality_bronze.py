"""The bronze id scanner and its cache, ``quality/_state/bronze_ids.parquet``: each bronze file is read once
per version (size and mtime), a changed or new file is read again, a full run trusts no cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from expectations.bronze import BRONZE_IDS, Bronze, newest_fetch, newest_partitions
from foundation.lake import Lake

STREAM = "bronze/source=sample/endpoint=search_recent/stream=duckdb"


def page(ids: list[Any], fetched: str | None = "2026-11-20T23:00:00Z") -> dict[str, Any]:
    return {"envelope": {"fetched_at": fetched}, "response": {"data": [{"id": i, "text": "t"} for i in ids]}}


def write(lake: Lake, day: str, pages: list[dict[str, Any]], name: str = "run-0000") -> str:
    rel = f"{STREAM}/ingest_date={day}/{name}.jsonl"
    lake.write_bytes(rel, "".join(json.dumps(p) + "\n" for p in pages).encode())
    return rel


def ids(bronze: Bronze) -> list[str]:
    return sorted(bronze.ids()["id"].to_pylist())


def drain(bronze: Bronze) -> int:
    """How many files this run had to read (the cached ones are not)."""
    n = 0
    while bronze.scan_next():
        n += 1
    return n


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def test_ids_and_newest_fetch_of_every_page(lake: Lake) -> None:
    write(
        lake,
        "2026-11-19",
        [page(["1", "2"], "2026-11-19T10:00:00Z"), page(["2", "3"], "2026-11-19T11:00:00Z")],
    )
    write(lake, "2026-11-20", [page([4, None], "2026-11-20T23:00:00Z"), page([], None)])
    lake.write_bytes(f"{STREAM}/ingest_date=2026-11-20/.partial.jsonl", b"{not json")  # an unfinished write
    bronze = Bronze(lake)
    assert ids(bronze) == ["1", "2", "3", "4"]  # distinct per file, ints as text, nulls dropped
    assert (
        newest_fetch(bronze) is not None and newest_fetch(bronze).isoformat() == "2026-11-20T23:00:00+00:00"
    )


def test_a_second_run_reads_no_file_and_a_changed_file_is_read_again(lake: Lake) -> None:
    write(lake, "2026-11-19", [page(["1", "2"])])
    day2 = write(lake, "2026-11-20", [page(["3"])])
    first = Bronze(lake)
    assert drain(first) == 2
    first.save()
    assert lake.exists(BRONZE_IDS)
    cached = Bronze(lake)
    assert drain(cached) == 0 and ids(cached) == ["1", "2", "3"]
    cached.save()  # nothing read: the cache is left as it is
    write(lake, "2026-11-20", [page(["3", "4"])])  # rewritten with one more tweet
    write(lake, "2026-11-21", [page(["5"])])
    changed = Bronze(lake)
    assert drain(changed) == 2 and ids(changed) == ["1", "2", "3", "4", "5"]
    changed.save()
    after = Bronze(lake)
    assert drain(after) == 0 and ids(after) == ["1", "2", "3", "4", "5"]
    # a removed file leaves the count (its cached row no longer matches a file)
    lake.remove([day2])
    assert ids(Bronze(lake)) == ["1", "2", "5"]


def test_a_full_run_and_a_broken_cache_read_every_file(lake: Lake, caplog: pytest.LogCaptureFixture) -> None:
    write(lake, "2026-11-19", [page(["1"])])
    b = Bronze(lake)
    drain(b)
    b.save()
    assert drain(Bronze(lake, use_cache=False)) == 1
    lake.write_bytes(BRONZE_IDS, b"not parquet")
    with caplog.at_level(logging.WARNING):
        broken = Bronze(lake)
        assert drain(broken) == 1 and ids(broken) == ["1"]
    assert "ignoring the bronze id cache" in caplog.text


def test_a_broken_page_is_counted_as_set_aside_not_read(lake: Lake) -> None:
    """The build sets a line it cannot read aside (silver.rejected_pages); the gate counts the same lines
    the same way: their tweets are not expected in silver, the line is counted as rejected."""
    rel = f"{STREAM}/ingest_date=2026-11-19/run-0000.jsonl"
    broken = json.dumps(page(["2", "3"]))[:-10]
    lake.write_bytes(rel, (json.dumps(page(["1"])) + "\n\n{broken\n" + broken).encode())
    bronze = Bronze(lake)
    assert ids(bronze) == ["1"]
    assert bronze.totals() == {"sample": {"pages": 1, "rejected": 2, "rejected_tweets": 0}}
    bronze.save()
    cached = Bronze(lake)
    assert drain(cached) == 0 and cached.totals() == bronze.totals()  # the counts are cached with the ids


def test_newest_partitions_are_per_stream() -> None:
    files = [
        "bronze/s=a/stream=x/ingest_date=2026-11-19/r.jsonl",
        "bronze/s=a/stream=x/ingest_date=2026-11-20/r.jsonl",
        "bronze/s=a/stream=x/ingest_date=2026-11-20/q.jsonl",
        "bronze/s=a/stream=y/ingest_date=2026-11-18/r.jsonl",
    ]
    assert newest_partitions(files) == files[1:]
