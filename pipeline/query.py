"""``tweetlake sql``: SQL over the whole lake in DuckDB, one view per table.

``silver.<table>`` reads the table's Parquet files (``silver/<table>/**/*.parquet``, partitions as columns);
``gold.<table>`` reads the gold Delta table's snapshot through delta-rs (the version current when the
query starts, or the one ``as_of`` names: a version number or a time), so a publish during the query
changes nothing it reads. An older lake whose gold has no Delta table yet reads ``gold/<table>.parquet``.
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
from pipeline.publish import table_path
from pipeline.versions import gold_tables as delta_tables


class QueryFailed(RuntimeError):
    """The query, or the version it asked for, cannot be read; the message says why and what exists."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    views: list[str]


def silver_tables(lake: Lake) -> list[str]:
    """The silver tables that hold Parquet files (``silver/<table>/``, partitioned or not)."""
    return sorted(
        posixpath.basename(rel)
        for rel in lake.glob(f"{SILVER}/*")
        if lake.glob(f"{rel}/*.parquet") or lake.glob(f"{rel}/**/*.parquet")
    )


def gold_tables(lake: Lake) -> dict[str, str]:
    """Each gold table and how it is read: ``delta`` (gold/<table>/) or ``parquet`` (gold/<table>.parquet)."""
    found = {posixpath.basename(rel)[: -len(".parquet")]: "parquet" for rel in lake.glob(f"{GOLD}/*.parquet")}
    found.update(dict.fromkeys(delta_tables(lake), "delta"))
    return dict(sorted(found.items()))


def connect(lake: Lake, as_of: str | None = None) -> tuple[Any, list[str], dict[str, str]]:
    """A DuckDB connection with a view per lake table, the views' names, and the tables left out because
    a file of theirs is damaged (name -> what to do): one bad file does not stop queries of the others."""
    import duckdb

    con = duckdb.connect()
    lake.register_with(con)
    views: list[str] = []
    damaged: dict[str, str] = {}
    con.execute("create schema silver; create schema gold")
    for table in silver_tables(lake):
        files = literal(f"{lake.url(SILVER, table)}/**/*.parquet")
        try:
            con.execute(
                f"create view silver.{ident(table)} as "
                f"select * from read_parquet({files}, hive_partitioning = true, union_by_name = true)"
            )
        except duckdb.Error as exc:
            hint = lakefiles.damage_hint(str(exc))
            if not hint:
                raise
            damaged[f"silver.{table}"] = hint
            continue
        views.append(f"silver.{table}")
    for table, kind in gold_tables(lake).items():
        if kind == "delta":
            snapshot = delta.open_table(lake, table_path(table))
            if as_of is not None:
                try:
                    snapshot.load_as_version(int(as_of) if as_of.isdigit() else as_of)
                except Exception as exc:  # delta-rs raises its own errors for a missing version or time
                    con.close()
                    raise QueryFailed(
                        f"gold.{table} has no version at {as_of!r} ({exc}); `tweetlake history` lists them "
                        "(a version number, or a time as 2026-12-02T10:00:00Z)"
                    ) from None
            name = f"_gold_{table}"
            con.register(name, snapshot.to_pyarrow_dataset())
            con.execute(f"create view gold.{ident(table)} as select * from {ident(name)}")
        else:
            source = literal(lake.url(GOLD, f"{table}.parquet"))
            try:
                con.execute(f"create view gold.{ident(table)} as select * from read_parquet({source})")
            except duckdb.Error as exc:
                hint = lakefiles.damage_hint(str(exc))
                if not hint:
                    raise
                damaged[f"gold.{table}"] = hint
                continue
        views.append(f"gold.{table}")
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
