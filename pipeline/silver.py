"""Publish silver: commit the staged silver files that passed the gate to silver's Delta tables.

dbt builds silver in ``<lake>/_staging/silver/<table>/`` (plain Parquet, hive-partitioned by ``dt`` where
large: the build's working copy, which the next incremental build reads). Readers never look there: each
``<lake>/silver/<table>/`` is a Delta table, and only publish writes it, after the gate passed the staged
files as they are now (:func:`expectations.validate.check_publishable`).

Publish commits the staged files themselves, not their rows: each changed file is copied byte for byte (a
server-side copy on S3) into the table's folder under a new name and committed as an ``add`` action, in one
version per table that replaces exactly the partitions that changed since the last publish (an overwrite by
partition); untouched partitions are never rewritten, and nothing is decoded or encoded again. Why not
``write_deltalake`` with the rows: it re-encodes every row and buffers up to a file's size per open
partition (about 1 GB for 30 partitions of a 10M-row tweets table), where a copy costs the disk's speed and
no memory (benchmarks/README.md, "Silver as Delta tables"). Not a hard link: a staged file damaged
in place (a disk error, a tool writing over it) would damage the published one with it.

What changed is known from ``silver/_published.json``: the fingerprint (size and mtime/ETag) of every staged
file each table's last publish committed. A table published whole: its first publish, one whose schema
changed in a way old files cannot follow (a column's type), one with a partition of null ``dt`` involved,
one rolled back (:mod:`pipeline.versions` forgets its fingerprints), and unpartitioned tables. A lake whose
silver was plain Parquet (before silver was staged) becomes Delta at its first publish; its plain files are
removed once the table's first version is committed (the build copied them to staging first:
:func:`dbt_runtime.state.stage_silver`).
"""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from foundation import delta, lakefiles
from foundation.lake import Lake
from foundation.layout import SILVER, SILVER_PUBLISHED, STAGING_SILVER
from foundation.times import isoformat_z, utcnow

PARTITION = "dt"  # the one partition column of silver's tables (macros/lake_table.sql)
NULL_PARTITION = "NULL"  # how the build names the partition of a null dt


class SilverSchemaConflict(RuntimeError):
    """Staged files of one table disagree on a column's type: silver must be rebuilt whole."""


@dataclass
class SilverPublish:
    tables: dict[str, int] = field(default_factory=dict)  # rows of each table committed now
    versions: dict[str, int] = field(default_factory=dict)  # each committed table's new Delta version
    partitions: dict[str, int] = field(default_factory=dict)  # partitions replaced (0: the whole table)
    unchanged: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        whole = sum(1 for t in self.versions if self.partitions.get(t) == 0)
        return (
            f"silver: {len(self.versions)} table(s) committed ({whole} whole, "
            f"{sum(self.partitions.values())} partition(s) replaced in the others), "
            f"{len(self.unchanged)} unchanged, in {self.seconds:.1f}s"
        )


def table_path(table: str) -> str:
    """The lake-relative folder of a silver table's Delta table."""
    return posixpath.join(SILVER, table)


def staged_files(lake: Lake, staging: str = STAGING_SILVER) -> dict[str, dict[str, str]]:
    """Each staged silver table's Parquet files (lake-relative) and their fingerprints, in one listing."""
    from expectations.tables import fingerprint

    base = lake._strip(lake.url(staging)).rstrip("/")
    if not lake.fs.exists(base):
        return {}
    found: dict[str, dict[str, str]] = {}
    for path, info in sorted(lake.fs.find(base, detail=True).items()):
        rel = staging + path[len(base) :]
        parts = rel[len(staging) + 1 :].split("/")
        if len(parts) < 2 or not rel.endswith(".parquet") or parts[-1].startswith((".", "_")):
            continue
        found.setdefault(parts[0], {})[rel] = fingerprint(info)
    return found


def _partition(key: str) -> str | None:
    """``dt=2026-11-30/data_0.parquet`` -> ``2026-11-30``; ``dt=NULL/...`` -> None; unpartitioned -> ""."""
    if "/" not in key:
        return ""
    folder = key.split("/", 1)[0]
    value = folder.split("=", 1)[1] if "=" in folder else folder
    return None if value == NULL_PARTITION else value


def _grouped(files: dict[str, str]) -> dict[str | None, dict[str, str]]:
    groups: dict[str | None, dict[str, str]] = {}
    for key, fp in files.items():
        groups.setdefault(_partition(key), {})[key] = fp
    return groups


def publish_silver(
    lake: Lake,
    staged: dict[str, dict[str, str]],
    metadata: dict[str, str],
    *,
    staging: str = STAGING_SILVER,
) -> SilverPublish:
    """Commit what changed in each staged table (see the module docstring); record it in
    ``silver/_published.json``. ``staged``: :func:`staged_files`, as the gate checked it."""
    from dbt_runtime.state import legacy_silver

    started = time.perf_counter()
    summary = SilverPublish()
    manifest = lake.read_json(SILVER_PUBLISHED, default=None) or {}
    before: dict[str, dict[str, str]] = manifest.get("staged", {})
    legacy = legacy_silver(lake)
    recorded = dict(before)
    for table, files in sorted(staged.items()):
        prefix = f"{staging}/{table}/"
        now = {f[len(prefix) :]: fp for f, fp in files.items()}
        rel = table_path(table)
        exists = lake.exists(f"{rel}/_delta_log")
        previous = before.get(table)
        if exists and previous == now:
            summary.unchanged.append(table)
            continue
        version, rows, replaced = _commit_table(
            lake, table, prefix, now, previous if exists else None, metadata
        )
        if table in legacy:  # the plain Parquet of an older lake: the Delta table now holds its rows
            lake.remove(legacy[table])
        summary.versions[table], summary.tables[table], summary.partitions[table] = version, rows, replaced
        recorded[table] = now
    summary.seconds = time.perf_counter() - started
    if summary.versions or not lake.exists(SILVER_PUBLISHED):
        lake.write_json(
            SILVER_PUBLISHED,
            {
                "run_id": metadata.get(delta.RUN_ID, ""),
                "gate_run": metadata.get(delta.GATE_RUN, ""),
                "published_at": isoformat_z(utcnow()),
                "tables": {**manifest.get("tables", {}), **summary.tables},
                "versions": {**manifest.get("versions", {}), **summary.versions},
                # the staged files each table's Delta version holds: what the next publish compares
                "staged": recorded,
            },
        )
    return summary


def _commit_table(
    lake: Lake,
    table: str,
    prefix: str,
    now: dict[str, str],
    previous: dict[str, str] | None,
    metadata: dict[str, str],
) -> tuple[int, int, int]:
    """One Delta version of ``table`` from its staged files ``now``: the partitions that differ from
    ``previous``, or the whole table. Its version, the rows it committed, the partitions replaced (0: all)."""
    partitioned = any("/" in key for key in now)
    groups, before = _grouped(now), _grouped(previous or {})
    changed = sorted((p for p in groups if groups[p] != before.get(p)), key=str)
    removed = sorted((p for p in before if p not in groups), key=str)
    whole = previous is None or not partitioned or None in changed or None in removed
    if not whole:
        chosen = {k: fp for p in changed for k, fp in groups[p].items()}
        try:
            return _commit(lake, table, prefix, chosen, partitioned, [*changed, *removed], metadata)
        except _SchemaChanged:
            pass  # a column's type changed: old partitions cannot follow, the table is committed whole
    version, rows, _ = _commit(lake, table, prefix, now, partitioned, None, metadata)
    return version, rows, 0


class _SchemaChanged(Exception):
    """The new files' schema is not the table's with columns added."""


def _commit(
    lake: Lake,
    table: str,
    prefix: str,
    chosen: dict[str, str],
    partitioned: bool,
    replace: list[str | None] | None,
    metadata: dict[str, str],
) -> tuple[int, int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rel = table_path(table)
    footers = {}
    for key in chosen:
        with lake.fs.open(lake._strip(lake.url(prefix + key)), "rb") as fh:
            footers[key] = pq.ParquetFile(fh).metadata
    schemas = [m.schema.to_arrow_schema() for m in footers.values()]
    try:
        schema = pa.unify_schemas(schemas) if schemas else pa.schema([])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SilverSchemaConflict(
            f"the staged files of silver.{table} ({lake.url(prefix)}) disagree on a column's type ({exc}); "
            "run `tweetlake build --full-refresh`, validate, then publish (nothing was published)"
        ) from None
    if partitioned:
        schema = schema.append(pa.field(PARTITION, pa.date32()))
    delta_schema = _table_schema(lake, rel, schema, merge=replace is not None)
    placed = []
    run = (metadata.get(delta.RUN_ID) or "run")[:24]
    for key, meta in sorted(footers.items()):
        if meta.num_rows == 0:  # an empty table's placeholder file: the schema is enough
            continue
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        name = f"{folder}part-{run}-{uuid.uuid4().hex[:12]}.parquet"
        size, mtime_ms = _place(lake, prefix + key, f"{rel}/{name}")
        placed.append(
            {
                "path": name,
                "size": size,
                "partition": _partition(key),
                "mtime_ms": mtime_ms,
                "rows": meta.num_rows,
            }
        )
    version = delta.commit_files(
        lake,
        rel,
        placed,
        delta_schema,
        partition_by=[PARTITION] if partitioned else [],
        replace=[p for p in replace if p is not None] if replace is not None else None,
        metadata=metadata,
    )
    return version, sum(int(f["rows"]) for f in placed), len(replace or [])


def _table_schema(lake: Lake, rel: str, schema: Any, *, merge: bool) -> Any:
    """The Delta schema of the new version: ``schema``'s, or for a partial commit the table's own with the
    new columns added (raises :class:`_SchemaChanged` when a column the table has changed type)."""
    import json

    from deltalake import Schema

    new = Schema.from_arrow(schema)
    if not merge:
        return new
    current = json.loads(delta.open_table(lake, rel).schema().to_json())
    fields = {f["name"]: f for f in current["fields"]}
    added = []
    for f in json.loads(new.to_json())["fields"]:
        old = fields.get(f["name"])
        if old is None:
            added.append(f)
        elif old["type"] != f["type"]:
            raise _SchemaChanged(f["name"])
    if not added:
        return Schema.from_json(json.dumps(current))
    return Schema.from_json(json.dumps({**current, "fields": [*current["fields"], *added]}))


def _place(lake: Lake, source: str, target: str) -> tuple[int, int]:
    """Copy the staged file ``source`` to ``target`` (lake-relative) byte for byte
    (:func:`foundation.lakefiles.copy`: server-side on S3); its size and modification time (ms). Not yet
    committed, the copy is invisible to readers."""
    lakefiles.copy(lake.url(source), lake.url(target), lake.s3_endpoint)
    if lake.remote:
        return int(lake.fs.info(lake._strip(lake.url(target)))["size"]), int(time.time() * 1000)
    st = os.stat(lake.url(target))
    return st.st_size, int(st.st_mtime * 1000)
