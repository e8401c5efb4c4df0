"""Silver's publish (pipeline.silver) when a release changes a table's columns, on a local lake with real
Delta tables (delta-rs) and hand-written staged Parquet: a new column is merged into the schema and the
table is still committed by partition; a column whose type changed makes the whole table commit again.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from foundation import delta
from foundation.lake import Lake
from foundation.layout import STAGING_SILVER
from pipeline.silver import publish_silver, staged_files


def stage(lake: Lake, day: str, table: pa.Table, name: str = "data_0.parquet") -> None:
    folder = Path(lake.url(STAGING_SILVER, "tweets", f"dt={day}"))
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)


def published(lake: Lake) -> DeltaTable:
    return DeltaTable(lake.url("silver", "tweets"), storage_options=delta.storage_options(lake))


def test_a_new_column_is_merged_and_only_the_changed_partition_is_committed(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    stage(lake, "2026-11-01", pa.table({"tweet_id": ["1", "2"], "like_count": [3, 4]}))
    stage(lake, "2026-11-02", pa.table({"tweet_id": ["3"], "like_count": [5]}))
    first = publish_silver(lake, staged_files(lake), {delta.RUN_ID: "run-a"})
    assert first.versions == {"tweets": 0} and first.partitions["tweets"] == 0  # first publish: whole
    kept = {f for f in published(lake).file_uris() if "dt=2026-11-01" in f}

    # the next release adds a column; its build rewrites only 2026-11-02 (the 11-01 file is untouched)
    stage(lake, "2026-11-02", pa.table({"tweet_id": ["3", "4"], "like_count": [5, 6], "lang": ["en", "de"]}))
    second = publish_silver(lake, staged_files(lake), {delta.RUN_ID: "run-b"})
    assert second.versions == {"tweets": 1} and second.partitions["tweets"] == 1

    table = published(lake)
    assert kept <= set(table.file_uris()), "the untouched partition was rewritten"
    assert [f.name for f in table.schema().fields] == ["tweet_id", "like_count", "dt", "lang"]
    rows = table.to_pyarrow_table().to_pylist()
    by_id = {r["tweet_id"]: r for r in rows}
    assert sorted(by_id) == ["1", "2", "3", "4"] and len(rows) == 4
    assert by_id["1"]["lang"] is None and by_id["4"]["lang"] == "de"  # older files read the new column null
    assert str(by_id["4"]["dt"]) == "2026-11-02"
    # the version before the release still reads as it was
    old = DeltaTable(lake.url("silver", "tweets"), version=0).to_pyarrow_table()
    assert old.num_rows == 3 and "lang" not in old.column_names


def test_a_column_whose_type_changed_commits_the_whole_table(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    stage(lake, "2026-11-01", pa.table({"tweet_id": ["1"], "like_count": pa.array([3], pa.int32())}))
    stage(lake, "2026-11-02", pa.table({"tweet_id": ["2"], "like_count": pa.array([4], pa.int32())}))
    publish_silver(lake, staged_files(lake), {delta.RUN_ID: "run-a"})

    # a full refresh with like_count widened to BIGINT rewrites every staged partition
    for day, tid, likes in (("2026-11-01", "1", 3), ("2026-11-02", "2", 7)):
        stage(lake, day, pa.table({"tweet_id": [tid], "like_count": pa.array([likes], pa.int64())}))
    summary = publish_silver(lake, staged_files(lake), {delta.RUN_ID: "run-b"})
    assert summary.versions == {"tweets": 1} and summary.partitions["tweets"] == 0  # 0: the whole table

    table = published(lake).to_pyarrow_table()
    assert table.schema.field("like_count").type == pa.int64()
    assert sorted(zip(table["tweet_id"].to_pylist(), table["like_count"].to_pylist(), strict=True)) == [
        ("1", 3),
        ("2", 7),
    ]
