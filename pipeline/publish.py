"""Publish: promote the validated silver and gold tables from staging to ``<lake>/silver`` and
``<lake>/gold``: a Delta table each, and for gold the plain Parquet and CSV exports for tools that read no
Delta.

Write-audit-publish: dbt writes silver under ``<lake>/_staging/silver`` and gold under
``<lake>/_staging/gold``, validation audits them, and only then does this module commit each table as a new
version of its Delta table (``<lake>/silver/<table>/``: :mod:`pipeline.silver`, only the partitions that
changed; ``<lake>/gold/<table>/``: the whole table), each commit recording the run and the gate run that
passed it, and replace ``<lake>/gold/<table>.parquet`` and ``.csv`` from exactly gold's rows, each object
atomically (a rename locally, a single PUT or completed multipart upload on S3). Publish checks both layers'
gate records first (:func:`expectations.validate.check_publishable`) and refuses, changing nothing, staged
data that failed its gate, was never validated, or changed after validation: the last good silver and gold
stay in place. Every publish is a version: :mod:`pipeline.versions` lists them and rolls back to one.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from foundation import delta
from foundation.lake import Lake
from foundation.layout import GOLD, PUBLISHED, STAGING_GOLD, STAGING_SILVER
from foundation.sql import literal
from foundation.times import isoformat_z, utcnow
from pipeline.silver import SilverPublish, publish_silver, staged_files


@dataclass
class PublishSummary:
    run_id: str
    tables: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # each gold table's Delta version
    silver: SilverPublish | None = None
    seconds: float = 0.0
    report: str = ""  # the lake report written after it (pipeline.steps.write_report), "" if none
    report_seconds: float = 0.0

    def describe(self) -> str:
        said = f"published {len(self.tables)} gold table(s) in {self.seconds:.1f}s"
        if self.silver is not None:
            said += f"; {self.silver.describe()}"
        if self.report:
            said += f"; lake report {self.report} ({self.report_seconds:.1f}s)"
        return said


def staged_tables(lake: Lake, staging: str = STAGING_GOLD) -> list[str]:
    return [posixpath.basename(p)[: -len(".parquet")] for p in lake.glob(f"{staging}/*.parquet")]


def publish(
    lake: Lake, *, run_id: str, staging: str = STAGING_GOLD, silver_staging: str = STAGING_SILVER
) -> PublishSummary:
    started = time.perf_counter()
    summary = PublishSummary(run_id=run_id)
    tables = staged_tables(lake, staging)
    if not tables:
        raise FileNotFoundError(f"nothing staged under {lake.url(staging)}: run `tweetlake build` first")
    # expectations.validate, not expectations.gate: the CLI maps its QualityGateFailed (and so PublishRefused)
    # to exit 3 once that module is imported.
    from expectations.validate import check_publishable

    # both layers checked before either is written: a refusal changes nothing
    silver = staged_files(lake, silver_staging)
    silver_files = {f: fp for files in silver.values() for f, fp in files.items()}
    silver_record = (
        check_publishable(lake, silver_staging, sorted(silver_files), silver_files) if silver else {}
    )
    record = check_publishable(lake, staging, [posixpath.join(staging, f"{t}.parquet") for t in tables])
    if silver:
        summary.silver = publish_silver(
            lake,
            silver,
            {delta.RUN_ID: run_id, delta.GATE_RUN: str(silver_record.get("run_id", ""))},
            staging=silver_staging,
        )
    metadata = {delta.RUN_ID: run_id, delta.GATE_RUN: str(record.get("run_id", ""))}
    with tempfile.TemporaryDirectory(prefix="tweetlake-publish-") as tmp:
        for table in tables:
            local = os.path.join(tmp, f"{table}.parquet")
            lake.fs.get(lake._strip(lake.url(staging, f"{table}.parquet")), local)
            summary.versions[table] = delta.overwrite(lake, table_path(table), read_arrow(local), metadata)
            summary.tables[table] = export(lake, table, local)
    summary.seconds = time.perf_counter() - started
    write_published(lake, run_id, summary.tables, summary.versions, gate_run=metadata[delta.GATE_RUN])
    return summary


def table_path(table: str) -> str:
    """The lake-relative folder of a gold table's Delta table."""
    return posixpath.join(GOLD, table)


def read_arrow(local_parquet: str, batch_rows: int = 16_384) -> Any:
    """The file's rows as a stream of Arrow batches: delta-rs writes them as they come, so a 10M-row
    tweets_export is never whole in memory (benchmarks/README.md: batch size and peak memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq  # ParquetFile, not read_table: that imports pyarrow.dataset (~1 s)

    source = pq.ParquetFile(local_parquet)
    return pa.RecordBatchReader.from_batches(source.schema_arrow, source.iter_batches(batch_size=batch_rows))


def export(lake: Lake, table: str, local_parquet: str) -> int:
    """Replace ``gold/<table>.parquet`` and ``.csv`` with the rows of ``local_parquet``; their count."""
    import duckdb  # here, not at module level: every command imports this module, few publish

    csv = local_parquet[: -len(".parquet")] + ".csv"
    with duckdb.connect() as con:
        source = f"read_parquet({literal(local_parquet)})"
        con.execute(f"copy (select * from {source}) to {literal(csv)} (header, delimiter ',')")
        [(rows,)] = con.execute(f"select count(*) from {source}").fetchall()
    lake.put_file(local_parquet, posixpath.join(GOLD, f"{table}.parquet"))
    lake.put_file(csv, posixpath.join(GOLD, f"{table}.csv"))
    return int(rows)


def write_published(
    lake: Lake, run_id: str, tables: dict[str, int], versions: dict[str, int], **extra: str
) -> None:
    """``gold/_published.json``: which run published gold, when, row counts and Delta versions."""
    lake.write_json(
        PUBLISHED,
        {
            "run_id": run_id,
            "published_at": isoformat_z(utcnow()),
            **extra,
            "tables": tables,
            "versions": versions,
        },
    )
