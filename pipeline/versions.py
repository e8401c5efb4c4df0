"""The lake's versions: every publish commits a Delta version of each gold table and of each silver table
that changed; list them, roll back to one.

A publish's commits carry its run id and the gate run that passed it (:mod:`pipeline.publish`), so the
history groups the tables' versions by run. A rollback restores every gold table to the version a run
published (or to a version number), and every silver table to its version as of that run (the run's own,
or the last before it: a publish commits only the silver tables that changed), as new versions (nothing is
deleted: a rollback can be rolled back); then it rewrites gold's Parquet and CSV exports and
``gold/_published.json`` from exactly those rows. It checks every table first and changes nothing when one
cannot be restored. A rolled-back silver table's staged fingerprints are forgotten
(``silver/_published.json``), so the next publish commits it whole from what the gate passed then.
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
from foundation.layout import GOLD, SILVER, SILVER_PUBLISHED
from pipeline import silver
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
    versions: dict[str, int] = field(default_factory=dict)  # gold table -> its Delta version
    silver: dict[str, int] = field(default_factory=dict)  # silver table -> the version this run committed
    first_ms: int = 0  # when its first commit was made (ms): silver as of the run is what was before it

    def describe(self) -> str:
        numbers = sorted(set(self.versions.values()))
        label = "v" + "/".join(map(str, numbers)) if numbers else "-"
        how = f"rollback to {self.restored_from}" if self.restored_from else f"gate passed in {self.gate_run}"
        said = f"{label:<6} {self.at}  run {self.run_id}  {len(self.versions)} gold table(s)"
        if self.silver:
            said += f", {len(self.silver)} silver"
        return f"{said}  {how}"


@dataclass
class RollbackSummary:
    run_id: str
    target: Version
    versions: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    silver: dict[str, int] = field(default_factory=dict)  # silver table -> its version now
    seconds: float = 0.0

    def describe(self) -> str:
        said = (
            f"rolled gold back to run {self.target.run_id} ({len(self.tables)} table(s), new versions "
            f"{self.target_label()})"
        )
        if self.silver:
            said += f" and {len(self.silver)} silver table(s)"
        return f"{said} in {self.seconds:.1f}s"

    def target_label(self) -> str:
        return "/".join(f"v{v}" for v in sorted(set(self.versions.values())))


def delta_tables(lake: Lake, layer: str) -> list[str]:
    """The tables of ``layer`` (silver or gold) that are Delta tables (``<layer>/<table>/_delta_log``)."""
    return sorted(posixpath.basename(posixpath.dirname(p)) for p in lake.glob(f"{layer}/*/_delta_log"))


def gold_tables(lake: Lake) -> list[str]:
    return delta_tables(lake, GOLD)


def silver_tables(lake: Lake) -> list[str]:
    return delta_tables(lake, SILVER)


def history(lake: Lake) -> list[Version]:
    """Every publish and rollback of gold (and the silver versions each committed), newest first."""
    runs: dict[str, Version] = {}
    for layer, tables, path in (
        (GOLD, gold_tables(lake), table_path),
        (SILVER, silver_tables(lake), silver.table_path),
    ):
        for table in tables:
            for commit in delta.open_table(lake, path(table)).history():
                run = str(commit.get(delta.RUN_ID) or f"(no run id, {layer} v{commit['version']})")
                at = datetime.fromtimestamp(commit["timestamp"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                entry = runs.setdefault(run, Version(run, at, first_ms=int(commit["timestamp"])))
                entry.at = max(entry.at, at)
                entry.first_ms = min(entry.first_ms, int(commit["timestamp"]))
                entry.gate_run = str(commit.get(delta.GATE_RUN) or entry.gate_run)
                entry.restored_from = str(commit.get(delta.RESTORED_FROM) or entry.restored_from)
                (entry.versions if layer == GOLD else entry.silver)[table] = int(commit["version"])
    return sorted(
        runs.values(), key=lambda v: (v.at, max([*v.versions.values(), *v.silver.values()])), reverse=True
    )


def find(lake: Lake, to: str, versions: list[Version] | None = None) -> Version:
    """The version ``to`` names: a run id from :func:`history`, or a Delta version number of every table."""
    tables = gold_tables(lake)
    if not tables:
        raise RollbackRefused(f"no gold versions in {lake.url(GOLD)}: publish first (`tweetlake publish`)")
    versions = history(lake) if versions is None else versions
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
                found.silver, found.first_ms = version.silver, version.first_ms
    return found


def silver_as_of(versions: list[Version], target: Version) -> dict[str, int]:
    """Each silver table's version as of the run ``target`` (one of ``versions``, :func:`history`): the one
    it committed, or the newest a run before it committed (a publish commits only the silver tables that
    changed; runs hold the lease in turn, so "before" is their first commits' order). Tables that did not
    exist then are left out."""
    found: dict[str, int] = {}
    for version in versions:
        if version.first_ms < target.first_ms:
            for table, number in version.silver.items():
                found[table] = max(found.get(table, number), number)
    return {**found, **target.silver}


def rollback(
    lake: Lake, to: str, *, run_id: str, layers: tuple[str, ...] = (SILVER, GOLD)
) -> RollbackSummary:
    """Restore the gold tables to the version ``to`` names (see :func:`find`) and re-export gold from it;
    the silver tables to their versions as of that run (:func:`silver_as_of`). ``layers``: which."""
    started = time.perf_counter()
    versions = history(lake)
    target = find(lake, to, versions)
    summary = RollbackSummary(run_id=run_id, target=target)
    metadata = {delta.RUN_ID: run_id, delta.RESTORED_FROM: target.run_id}
    if SILVER in layers:
        wanted = silver_as_of(versions, target)
        for table, version in sorted(wanted.items()):
            current = int(delta.open_table(lake, silver.table_path(table)).version())
            if current != version:
                current = delta.restore(lake, silver.table_path(table), version, metadata)
            summary.silver[table] = current
        manifest = lake.read_json(SILVER_PUBLISHED, default=None) or {}
        staged = manifest.get("staged", {})
        for table in wanted:  # the next publish commits these whole: their staged files are not these rows
            staged.pop(table, None)
        if manifest or wanted:
            lake.write_json(SILVER_PUBLISHED, {**manifest, "staged": staged, "rolled_back_to": target.run_id})
    if GOLD not in layers:
        summary.seconds = time.perf_counter() - started
        return summary
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
