"""Publish: promote the validated gold tables from staging to ``<lake>/gold`` as Parquet and CSV.

Write-audit-publish: dbt writes gold under ``<lake>/_staging/gold``, validation audits it, and only then does
this module replace ``<lake>/gold/<table>.parquet`` and ``<lake>/gold/<table>.csv``, each object atomically (a
rename locally, a single PUT or completed multipart upload on S3). Publish checks the gate's record first
(:func:`expectations.validate.check_publishable`) and refuses, changing nothing, staged gold that failed its
gate, was never validated, or changed after validation: the last good gold stays in place.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass, field

from foundation.lake import Lake
from foundation.layout import GOLD, PUBLISHED, STAGING_GOLD
from foundation.sql import literal
from foundation.times import isoformat_z, utcnow


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
    # expectations.validate, not expectations.gate: the CLI maps its QualityGateFailed (and so PublishRefused)
    # to exit 3 once that module is imported.
    from expectations.validate import check_publishable

    check_publishable(lake, staging, [posixpath.join(staging, f"{t}.parquet") for t in tables])
    import duckdb  # here, not at module level: every command imports this module, few publish

    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="tweetlake-publish-") as tmp:
        for table in tables:
            local = os.path.join(tmp, f"{table}.parquet")
            lake.fs.get(lake._strip(lake.url(staging, f"{table}.parquet")), local)
            csv = os.path.join(tmp, f"{table}.csv")
            con.execute(
                f"copy (select * from read_parquet({literal(local)})) "
                f"to {literal(csv)} (header, delimiter ',')"
            )
            [(rows,)] = con.execute(f"select count(*) from read_parquet({literal(local)})").fetchall()
            lake.put_file(local, posixpath.join(GOLD, f"{table}.parquet"))
            lake.put_file(csv, posixpath.join(GOLD, f"{table}.csv"))
            summary.tables[table] = int(rows)
    con.close()
    summary.seconds = time.perf_counter() - started
    lake.write_json(
        PUBLISHED,
        {"run_id": run_id, "published_at": isoformat_z(utcnow()), "tables": summary.tables},
    )
    return summary
