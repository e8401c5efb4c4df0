"""``tweetlake sql``: SQL over the whole lake in DuckDB, one view per table.

``silver.<table>`` and ``gold.<table>`` read each Delta table's snapshot through delta-rs (the version
current when the query starts, or the one ``as_of`` names: a gold version number or a run id, with silver as
of that run, or a time), so a publish during the query changes nothing it reads. An older lake whose tables
are not Delta yet reads their plain Parquet (``silver/<table>/**/*.parquet``, ``gold/<table>.parquet``).
DuckDB reads Delta through delta-rs' Arrow dataset, not its own ``delta`` extension: extensions are
downloaded on first use, and the lake must work offline.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from foundation import delta, lakefiles
from foundation.lake import Lake
from foundation.layout import GOLD, SILVER
from foundation.sql import ident, literal
from pipeline.versions import gold_tables as delta_tables
from pipeline.versions import silver_tables as delta_silver_tables


class QueryFailed(RuntimeError):
    """The query, or the version it asked for, cannot be read; the message says why and what exists."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    views: list[str]


def silver_tables(lake: Lake) -> dict[str, str]:
    """Each silver table and how it is read: ``delta`` (silver/<table>/_delta_log), or ``parquet`` for the
    plain files of a lake not yet published since silver became Delta."""
    from dbt_runtime.state import legacy_silver

    found = dict.fromkeys(legacy_silver(lake), "parquet")
    found.update(dict.fromkeys(delta_silver_tables(lake), "delta"))
    return dict(sorted(found.items()))


def gold_tables(lake: Lake) -> dict[str, str]:
    """Each gold table and how it is read: ``delta`` (gold/<table>/) or ``parquet`` (gold/<table>.parquet)."""
    found = {posixpath.basename(rel)[: -len(".parquet")]: "parquet" for rel in lake.glob(f"{GOLD}/*.parquet")}
    found.update(dict.fromkeys(delta_tables(lake), "delta"))
    return dict(sorted(found.items()))


def _as_of(lake: Lake, as_of: str | None) -> dict[str, Any]:
    """What each Delta table is read at: ``{"gold/<t>": version, "silver/<t>": version}`` for a gold
    version number or a run id (silver as of that run), ``{"*": time}`` for a time, ``{}`` for now."""
    if as_of is None:
        return {}
    from pipeline.versions import RollbackRefused, find, history, silver_as_of

    versions = history(lake)
    try:
        target = find(lake, as_of, versions)
    except RollbackRefused:
        if as_of.isdigit() or not any(c in as_of for c in "-:"):
            raise QueryFailed(
                f"no gold version or run {as_of!r}: `tweetlake history` lists them (or give a time, as "
                "2026-12-02T10:00:00Z)"
            ) from None
        return {"*": as_of}
    pinned: dict[str, Any] = {f"{GOLD}/{t}": v for t, v in target.versions.items()}
    pinned.update({f"{SILVER}/{t}": v for t, v in silver_as_of(versions, target).items()})
    return pinned


def _snapshot(lake: Lake, rel: str, pinned: dict[str, Any]) -> Any:
    """The Delta table at ``rel`` as ``pinned`` says (:func:`_as_of`), as an Arrow dataset."""
    snapshot = delta.open_table(lake, rel)
    at = pinned.get(rel, pinned.get("*"))
    if pinned and at is None:
        raise QueryFailed(
            f"{rel.replace('/', '.', 1)} did not exist then; `tweetlake history` lists versions"
        )
    if at is not None:
        try:
            snapshot.load_as_version(at)
        except Exception as exc:  # delta-rs raises its own errors for a missing version or time
            raise QueryFailed(
                f"{rel.replace('/', '.', 1)} has no version at {at!r} ({exc}); `tweetlake history` lists "
                "them (a version number, a run id, or a time as 2026-12-02T10:00:00Z)"
            ) from None
    return snapshot.to_pyarrow_dataset()


def connect(lake: Lake, as_of: str | None = None) -> tuple[Any, list[str], dict[str, str]]:
    """A DuckDB connection with a view per lake table, the views' names, and the tables left out because
    a file of theirs is damaged (name -> what to do): one bad file does not stop queries of the others."""
    import duckdb

    pinned = _as_of(lake, as_of)
    con = duckdb.connect()
    lake.register_with(con)
    views: list[str] = []
    damaged: dict[str, str] = {}
    con.execute("create schema silver; create schema gold")
    layers = ((SILVER, silver_tables(lake)), (GOLD, gold_tables(lake)))
    try:
        for layer, tables in layers:
            for table, kind in tables.items():
                view = f"{layer}.{ident(table)}"
                if kind == "delta":
                    name = f"_{layer}_{table}"
                    con.register(name, _snapshot(lake, f"{layer}/{table}", pinned))
                    con.execute(f"create view {view} as select * from {ident(name)}")
                else:
                    plain = lake.url(SILVER, table) + "/**/*.parquet"
                    source = (
                        literal(lake.url(GOLD, f"{table}.parquet"))
                        if layer == GOLD
                        else f"{literal(plain)}, hive_partitioning = true, union_by_name = true"
                    )
                    try:
                        con.execute(f"create view {view} as select * from read_parquet({source})")
                    except duckdb.Error as exc:
                        hint = lakefiles.damage_hint(str(exc))
                        if not hint:
                            raise
                        damaged[f"{layer}.{table}"] = hint
                        continue
                views.append(f"{layer}.{table}")
    except QueryFailed:
        con.close()
        raise
    return con, views, damaged


def run_sql(lake: Lake, sql: str, *, as_of: str | None = None) -> QueryResult:
    """The rows of ``sql`` over the lake's views (see the module docstring)."""
    import duckdb

    con, views, damaged = connect(lake, as_of)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, cursor.fetchall() if columns else [], views)
    except duckdb.Error as exc:
        listed = ", ".join(views) or "none (build the lake first: `tweetlake refresh`)"
        hint = lakefiles.damage_hint(str(exc)) or "\n".join(
            f"{name} cannot be read: {why}" for name, why in damaged.items() if name in sql
        )
        if hint:
            raise QueryFailed(f"the query failed: {hint}") from None
        raise QueryFailed(f"the query failed: {exc}\nthe lake's tables: {listed}") from None
    finally:
        con.close()
