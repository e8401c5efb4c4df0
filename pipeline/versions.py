"""Gold's versions: every publish commits a Delta version of each gold table; list them, roll back to one.

A publish's commits carry its run id and the gate run that passed it (:mod:`pipeline.publish`), so the
history groups the tables' versions by run. A rollback restores every gold table to the version a run
published (or to a version number), as new versions (nothing is deleted: a rollback can be rolled back),
then rewrites the Parquet and CSV exports and ``gold/_published.json`` from exactly those rows. It checks
every table first and changes nothing when one cannot be restored.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from foundation import delta
from foundation.lake import Lake
from foundation.layout import GOLD
from pipeline.publish import export, table_path, write_published


class RollbackRefused(RuntimeError):
    """The target names no version every gold table has; nothing was changed."""


@dataclass
class Version:
    """One publish (or rollback) of gold: the run and each table's Delta version it wrote."""

    run_id: str
    at: str
    gate_run: str = ""
    restored_from: str = ""
    versions: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        numbers = sorted(set(self.versions.values()))
        label = f"v{numbers[0]}" if len(numbers) == 1 else "v" + "/".join(map(str, numbers))
        how = f"rollback to {self.restored_from}" if self.restored_from else f"gate passed in {self.gate_run}"
        return f"{label:<6} {self.at}  run {self.run_id}  {len(self.versions)} table(s)  {how}"


@dataclass
class RollbackSummary:
    run_id: str
    target: Version
    versions: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"rolled gold back to run {self.target.run_id} ({len(self.tables)} table(s), new versions "
            f"{self.target_label()}) in {self.seconds:.1f}s"
        )

    def target_label(self) -> str:
        return "/".join(f"v{v}" for v in sorted(set(self.versions.values())))


def gold_tables(lake: Lake) -> list[str]:
    """The gold tables that are Delta tables (``gold/<table>/_delta_log``)."""
    return sorted(posixpath.basename(posixpath.dirname(p)) for p in lake.glob(f"{GOLD}/*/_delta_log"))


def history(lake: Lake) -> list[Version]:
    """Every publish and rollback of gold, newest first."""
    runs: dict[str, Version] = {}
    for table in gold_tables(lake):
        for commit in delta.open_table(lake, table_path(table)).history():
            run = str(commit.get(delta.RUN_ID) or f"(no run id, v{commit['version']})")
            at = datetime.fromtimestamp(commit["timestamp"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            entry = runs.setdefault(run, Version(run, at))
            entry.at = max(entry.at, at)
            entry.gate_run = str(commit.get(delta.GATE_RUN) or entry.gate_run)
            entry.restored_from = str(commit.get(delta.RESTORED_FROM) or entry.restored_from)
            entry.versions[table] = int(commit["version"])
    return sorted(runs.values(), key=lambda v: (v.at, max(v.versions.values())), reverse=True)


def find(lake: Lake, to: str) -> Version:
    """The version ``to`` names: a run id from :func:`history`, or a Delta version number of every table."""
    tables = gold_tables(lake)
    if not tables:
        raise RollbackRefused(f"no gold versions in {lake.url(GOLD)}: publish first (`tweetlake publish`)")
    versions = history(lake)
    found = next((v for v in versions if v.run_id == to), None)
    why = f"run {to} did not publish {{}} (added later): roll back to a later run (`tweetlake history`)"
    if found is None and to.isdigit():
        found = _numbered(versions, int(to))
        why = f"gold table(s) {{}} have no version {to}: pick a run id from `tweetlake history`"
    if found is None:
        raise RollbackRefused(
            f"no gold version or run {to!r}: `tweetlake history` lists them; nothing was changed"
        )
    missing = [t for t in tables if t not in found.versions]
    if missing:
        raise RollbackRefused(why.format(", ".join(missing)) + "; nothing was changed")
    return found


def _numbered(versions: list[Version], number: int) -> Version:
    """Version ``number`` of each table that has one (named after the run that wrote it)."""
    found = Version(f"v{number}", "")
    for version in versions:
        for table, v in version.versions.items():
            if v == number:
                found.versions[table] = v
                found.run_id, found.at = version.run_id, version.at
    return found


def rollback(lake: Lake, to: str, *, run_id: str) -> RollbackSummary:
    """Restore every gold table to the version ``to`` names (see :func:`find`); re-export gold from it."""
    started = time.perf_counter()
    target = find(lake, to)
    summary = RollbackSummary(run_id=run_id, target=target)
    metadata = {delta.RUN_ID: run_id, delta.RESTORED_FROM: target.run_id}
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="tweetlake-rollback-") as tmp:
        for table, version in sorted(target.versions.items()):
            current = int(delta.open_table(lake, table_path(table)).version())
            # delta-rs refuses to restore the current version: that table is already as asked
            if current != version:
                current = delta.restore(lake, table_path(table), version, metadata)
            summary.versions[table] = current
            local = os.path.join(tmp, f"{table}.parquet")
            pq.write_table(delta.open_table(lake, table_path(table)).to_pyarrow_table(), local)
            summary.tables[table] = export(lake, table, local)
    summary.seconds = time.perf_counter() - started
    write_published(lake, run_id, summary.tables, summary.versions, rolled_back_to=target.run_id)
    return summary
