"""``tweetlake maintain``: keep the lake's Delta tables small and fast to open.

For each silver and gold Delta table: compact small files into larger ones (a new version with the same
rows), write a checkpoint of the log (readers then open one Parquet checkpoint instead of replaying every
commit), and vacuum: delete the files no version within the retention needs. The retention (default 7
days, delta's own default) is how far back time travel and rollback reach, and how long a reader that
opened an older snapshot may keep reading it: a query or rollback inside it is never broken. A shorter one
must be asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from foundation import delta
from foundation.lake import Lake
from pipeline import silver
from pipeline.publish import table_path
from pipeline.versions import gold_tables, silver_tables

DEFAULT_RETENTION_HOURS = 7 * 24


@dataclass
class TableMaintenance:
    files_compacted: int = 0
    files_added: int = 0
    files_vacuumed: int = 0


@dataclass
class MaintainSummary:
    retention_hours: float
    tables: dict[str, TableMaintenance] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        removed = sum(t.files_compacted for t in self.tables.values())
        vacuumed = sum(t.files_vacuumed for t in self.tables.values())
        return (
            f"maintained {len(self.tables)} Delta table(s) in {self.seconds:.1f}s: {removed} small file(s) "
            f"compacted, {vacuumed} file(s) older than {self.retention_hours:g} h vacuumed"
        )


def maintain(lake: Lake, *, retention_hours: float = DEFAULT_RETENTION_HOURS) -> MaintainSummary:
    if retention_hours < 0:
        raise ValueError(f"retention of {retention_hours:g} h: give 0 or more hours")
    started = time.perf_counter()
    summary = MaintainSummary(retention_hours=retention_hours)
    tables = [table_path(t) for t in gold_tables(lake)] + [silver.table_path(t) for t in silver_tables(lake)]
    for rel in tables:
        done = TableMaintenance()
        metrics = delta.open_table(lake, rel).optimize.compact()
        done.files_compacted = int(metrics.get("numFilesRemoved", 0))
        done.files_added = int(metrics.get("numFilesAdded", 0))
        current = delta.open_table(lake, rel)
        current.create_checkpoint()
        removed = current.vacuum(
            retention_hours=int(retention_hours),
            dry_run=False,
            # delta refuses less than its 7-day default unless told: here the user asked for it
            enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
        )
        done.files_vacuumed = len(removed)
        summary.tables[rel] = done
    summary.seconds = time.perf_counter() - started
    return summary
