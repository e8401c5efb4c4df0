"""Publish: promote the validated gold tables from staging to ``<lake>/gold`` as Parquet and CSV.

Write-audit-publish: dbt writes gold under ``<lake>/_staging/gold``, validation audits it, and only then does
this module replace ``<lake>/gold/<table>.parquet`` and ``<lake>/gold/<table>.csv``, each object atomically (a
rename locally, a single PUT or completed multipart upload on S3). A failed validation never reaches this
step, so the last good gold stays in place.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ingestion.lake import Lake
from ingestion.pages import isoformat_z, utcnow

STAGING_GOLD = "_staging/gold"


@dataclass
class PublishSummary:
    run_id: str
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        return f"published {len(self.tables)} gold table(s) in {self.seconds:.1f}s"


def staged_tables(lake: Lake, staging: str = STAGING_GOLD) -> list[str]:
    return [posixpath.basename(p)[: -len(".parquet")] for p in lake.glob(f"{staging}/*.parquet")]


def publish(lake: Lake, *, run_id: str, staging: str = STAGING_GOLD) -> PublishSummary:
    started = time.perf_counter()
    summary = PublishSummary(run_id=run_id)
    tables = staged_tables(lake, staging)
    if not tables:
        raise FileNotFoundError(f"nothing staged under {lake.url(staging)}: run `tweetlake build` first")
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="tweetlake-publish-") as tmp:
        for table in tables:
            local = os.path.join(tmp, f"{table}.parquet")
            lake.fs.get(lake._strip(lake.url(staging, f"{table}.parquet")), local)
            csv = os.path.join(tmp, f"{table}.csv")
            con.execute(
                f"copy (select * from read_parquet('{_sql(local)}')) to '{_sql(csv)}' (header, delimiter ',')"
            )
            rows = con.execute(f"select count(*) from read_parquet('{_sql(local)}')").fetchone()[0]
            _replace(lake, local, posixpath.join("gold", f"{table}.parquet"))
            _replace(lake, csv, posixpath.join("gold", f"{table}.csv"))
            summary.tables[table] = int(rows)
    con.close()
    summary.seconds = time.perf_counter() - started
    lake.write_json(
        "gold/_published.json",
        {"run_id": run_id, "published_at": isoformat_z(utcnow()), "tables": summary.tables},
    )
    return summary


def _replace(lake: Lake, local: str, rel: str) -> None:
    """Move a local file to ``rel`` in the lake, atomically."""
    if lake.remote:
        lake.fs.put_file(local, lake._strip(lake.url(rel)))
        return
    target = lake.url(rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{os.getpid()}.tmp")
    with open(local, "rb") as src, open(tmp, "wb") as dst:
        while chunk := src.read(8 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, target)


def _sql(value: Any) -> str:
    return str(value).replace("'", "''")
