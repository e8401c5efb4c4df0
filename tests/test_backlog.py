"""Cutting a bronze backlog into build batches (dbt_runtime/backlog.py): the cut points and what is pending.

The batched build itself runs for real in tests/test_dbt_models.py (batched lake == full refresh).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dbt_runtime.backlog import BronzeFile, batch_cuts, lake_relative, pending_files
from foundation.settings import ConfigError, load_settings, parse_bytes


def files(*sizes: int, day: str = "2026-10-01") -> list[BronzeFile]:
    return [
        BronzeFile(f"bronze/source=s/endpoint=e/stream=x/ingest_date={day}/f{i:02d}.jsonl", size, "t")
        for i, size in enumerate(sizes)
    ]


def test_cuts_close_a_batch_before_it_would_pass_the_budget() -> None:
    fs = files(40, 40, 40, 10, 90, 5)
    cuts = batch_cuts(fs, 100)
    # batches: [40, 40] [40, 10] [90, 5]
    assert cuts == [fs[1].sort_key, fs[3].sort_key]


def test_a_file_larger_than_the_budget_is_a_batch_of_its_own() -> None:
    fs = files(500, 20, 700)
    assert batch_cuts(fs, 100) == [fs[0].sort_key, fs[1].sort_key]


def test_no_cuts_when_everything_fits_or_batching_is_off() -> None:
    fs = files(30, 30, 30)
    assert batch_cuts(fs, 90) == []
    assert batch_cuts(fs, 0) == []
    assert batch_cuts([], 10) == []


def test_sort_key_orders_by_ingest_date_before_path() -> None:
    late = files(1, day="2026-10-02")[0]
    early = BronzeFile("bronze/source=s/endpoint=z/stream=z/ingest_date=2026-10-01/z.jsonl", 1, "t")
    assert early.bronze_file > late.bronze_file  # by path alone the later day would come first
    assert sorted([late, early], key=lambda f: f.sort_key) == [early, late]
    assert lake_relative("s3://bucket/prefix/bronze/source=s/x.jsonl") == "bronze/source=s/x.jsonl"


def test_pending_files_skip_what_the_build_state_recorded(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    names = []
    for day in ("2026-10-02", "2026-10-01"):
        folder = root / f"bronze/source=sample/endpoint=search_recent/stream=q/ingest_date={day}"
        folder.mkdir(parents=True)
        (folder / "p.jsonl").write_text('{"envelope": {}}\n' * (3 if day.endswith("1") else 5))
        names.append(f"bronze/source=sample/endpoint=search_recent/stream=q/ingest_date={day}/p.jsonl")
    settings = load_settings({"TWEETLAKE_LAKE": str(root)})
    pending = pending_files(settings)
    assert [f.bronze_file for f in pending] == sorted(names)  # ingest date order
    # _state/build/bronze_files as the dbt model writes it: the first file processed with this size and mtime
    first = pending[0]
    (root / "_state/build/bronze_files/dt=2026-10-01").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(
        "copy (select ? as bronze_file, ? as size, ? as mtime) to ?",
        [
            first.bronze_file,
            first.size,
            first.mtime,
            str(root / "_state/build/bronze_files/dt=2026-10-01/data_0.parquet"),
        ],
    )
    con.close()
    assert pending_files(settings) == pending[1:]
    assert pending_files(settings, full_refresh=True) == pending
    # a rewritten file (another size) is pending again
    (root / first.bronze_file).write_text('{"envelope": {}}\n' * 4)
    assert [f.bronze_file for f in pending_files(settings)] == sorted(names)


def test_batch_size_setting() -> None:
    assert load_settings({}).build_batch_bytes == 2 * 2**30
    assert load_settings({"TWEETLAKE_BUILD_BATCH": "512MB"}).build_batch_bytes == 512 * 2**20
    assert load_settings({"TWEETLAKE_BUILD_BATCH": "0"}).build_batch_bytes == 0
    assert parse_bytes("X", "1.5 gb") == int(1.5 * 2**30)
    with pytest.raises(ConfigError, match="TWEETLAKE_BUILD_BATCH='lots' is not a size"):
        load_settings({"TWEETLAKE_BUILD_BATCH": "lots"})


def test_state_kept_in_silver_by_an_older_layout_moves_to_the_state_area(tmp_path: Path) -> None:
    """dbt_runtime.state.migrate: silver/bronze_files and silver/tweet_sentiment move, same relative paths,
    to _state/build/; a file already moved (an interrupted S3 move) is kept; a second call moves nothing."""
    from dbt_runtime.state import migrate
    from foundation.lake import Lake

    root = tmp_path / "lake"
    old = {
        "silver/bronze_files/dt=2026-10-01/data_0.parquet": b"a",
        "silver/bronze_files/dt=2026-10-02/data_0.parquet": b"b",
        "silver/tweet_sentiment/part-x-0.parquet": b"c",
        "silver/tweet_sentiment/data_0.parquet": b"old copy",
        "silver/tweets/dt=2026-10-01/data_0.parquet": b"t",
    }
    for rel, data in old.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "_state/build/tweet_sentiment").mkdir(parents=True)
    (root / "_state/build/tweet_sentiment/data_0.parquet").write_bytes(b"moved")
    lake = Lake(str(root))
    assert migrate(lake) == "moved to _state/build/ bronze_files: 2 file(s), tweet_sentiment: 2 file(s)"
    assert sorted(lake.walk_files("_state/build")) == [
        "_state/build/bronze_files/dt=2026-10-01/data_0.parquet",
        "_state/build/bronze_files/dt=2026-10-02/data_0.parquet",
        "_state/build/tweet_sentiment/data_0.parquet",
        "_state/build/tweet_sentiment/part-x-0.parquet",
    ]
    assert lake.read_bytes("_state/build/tweet_sentiment/data_0.parquet") == b"moved"
    assert lake.read_bytes("_state/build/bronze_files/dt=2026-10-02/data_0.parquet") == b"b"
    assert sorted(p.name for p in (root / "silver").iterdir()) == ["tweets"]
    assert migrate(lake) == "nothing to move"
