"""The DuckDB side of validating a table: its row count and schema, its rows in batches for GX, and the
whole-table expectations reduced to small frames that reproduce GX's verdict.

A whole-table expectation (uniqueness, row counts, min/max, references, the bronze count) needs every row
at once. DuckDB computes it over every file of the table (spilling to disk past ``memory_limit``) and hands
GX a *small* frame with the same verdict: the duplicated keys (each twice), the orphan values, the max
value, or a zero-column frame with the table's row count. GX evaluates the expectation on that frame; the
exact counts from DuckDB are written back into the result (``_Reduced.patch``), so the Data Docs show true
numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from expectations.options import QualityOptions
from expectations.plan import AS_UTC_TYPES, EXISTS_IN_TABLE, WIDENED_TYPES, Planned
from expectations.tables import Table, read_parquet
from foundation.lake import Lake
from foundation.sql import ident

ROW_COUNT = ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal")
EXTREMES = ("expect_column_max_to_be_between", "expect_column_min_to_be_between")
UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def session(con: Any) -> Any:
    """A DuckDB connection's per-session settings (the global ones are set once, by the run)."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con


@dataclass
class Head:
    """What DuckDB says of a table before its rows are read."""

    rows: int
    schema: dict[str, str]  # column -> DuckDB type
    empty: pd.DataFrame  # no rows, every column (for the schema expectations)
    files: list[str]  # the files whose rows the row expectations read
    no_rows: pd.DataFrame  # no rows, the columns the row expectations read


@dataclass
class Reduced:
    """A whole-table expectation reduced by DuckDB: the small frame GX evaluates, the kwargs it evaluates
    it with, and the exact counts written back into GX's result (``patch``)."""

    frame: pd.DataFrame | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    patch: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # why it cannot be evaluated (a referenced table not built)
    error: Exception | None = None


def projection(columns: list[str], schema: dict[str, str]) -> str:
    """The select list of ``columns`` in the types GX compares vectorized (see ``plan.AS_UTC_TYPES``)."""
    parts = []
    for c in columns:
        if c not in schema:
            continue
        expr = ident(c)
        if schema[c] in AS_UTC_TYPES:
            expr = f"cast({expr} as timestamptz) as {ident(c)}"
        elif schema[c] in WIDENED_TYPES:
            expr = f"cast({expr} as {WIDENED_TYPES[schema[c]]}) as {ident(c)}"
        parts.append(expr)
    return ", ".join(parts) or "1 as _tweetlake_row"


class Duck:
    """DuckDB queries on the run's views of the tables, on one connection (a cursor of the run's database)."""

    def __init__(self, lake: Lake, options: QualityOptions, tables: dict[str, Table], con: Any) -> None:
        self.lake = lake
        self.options = options
        self.tables = tables
        self.con = con

    def head(self, table: Table, row_columns: list[str], files: list[str]) -> Head:
        rows = int(self.con.execute(f"select count(*) from {table.view}").fetchone()[0])
        described = self.con.execute(f"describe select * from {table.view}").fetchall()
        schema = {r[0]: str(r[1]) for r in described}
        empty = self.con.execute(f"select * from {table.view} limit 0").df()
        no_rows = self.con.execute(f"select {projection(row_columns, schema)} from {table.view} limit 0").df()
        return Head(rows, schema, empty, files, no_rows)

    def row_batches(self, head: Head, columns: list[str]) -> Iterator[pd.DataFrame]:
        """Frames of ``columns`` of ``head.files``, at most ``batch_rows`` rows each, one per ``next``."""
        if not head.files:
            return
        import pyarrow as pa

        limit = self.options.batch_rows
        reader = self.con.sql(
            f"select {projection(columns, head.schema)} from {read_parquet(self.lake, head.files)}"
        ).to_arrow_reader(limit)
        # DuckDB's batches are approximately batch_rows (often smaller): gather them up to batch_rows, as
        # every GX validation of a batch has a cost per expectation whatever its size.
        pending: list[Any] = []
        count = 0
        for rb in reader:
            if pending and count + rb.num_rows > limit:
                yield pa.Table.from_batches(pending).to_pandas()
                pending, count = [], 0
            pending.append(rb)
            count += rb.num_rows
        if pending:
            yield pa.Table.from_batches(pending).to_pandas()

    def reduce(self, table: Table, p: Planned, rows: int) -> Reduced:
        """A whole-table expectation (all but the bronze count, see ``reduce_bronze``) as a small frame."""
        if p.type in ROW_COUNT:
            return Reduced(pd.DataFrame(index=pd.RangeIndex(rows)), dict(p.kwargs))
        if p.type in EXTREMES:
            fn = "max" if "max" in p.type else "min"
            col = ident(p.kwargs["column"])
            return Reduced(
                self.con.execute(f"select {fn}({col}) as {col} from {table.view}").df(), dict(p.kwargs)
            )
        if p.type in UNIQUE:
            return self._duplicates(table, p, rows)
        if p.type == EXISTS_IN_TABLE:
            return self._orphans(table, p, rows)
        raise ValueError(f"no whole-table evaluation for {p.type}")  # pragma: no cover - TABLE_TYPES

    def _duplicates(self, table: Table, p: Planned, rows: int) -> Reduced:
        """The most duplicated keys, each twice (GX counts them as duplicates); DuckDB's exact counts."""
        k = p.kwargs
        cols = [k["column"]] if "column" in k else list(k["column_list"])
        sel = ", ".join(ident(c) for c in cols)
        joiner = " or " if p.type == "expect_compound_columns_to_be_unique" else " and "
        notnull = joiner.join(f"{ident(c)} is not null" for c in cols)
        dup = self.con.execute(
            f"select {sel}, count(*) as _n, sum(count(*)) over () as _rows, count(*) over () as _keys "
            f"from {table.view} where {notnull} group by all having count(*) > 1 "
            f"order by _n desc limit {self.options.examples}"
        ).df()
        patch: dict[str, Any] = {"unexpected_count": int(dup["_rows"].iloc[0]) if len(dup) else 0}
        patch["element_count"] = rows
        if len(dup):
            patch["duplicate_keys"] = int(dup["_keys"].iloc[0])
        keys = dup[cols]
        return Reduced(pd.concat([keys, keys], ignore_index=True), dict(k), patch)

    def _orphans(self, table: Table, p: Planned, rows: int) -> Reduced:
        """The values of a column missing from the referenced table's column (skipped if it is not built)."""
        k = p.kwargs
        ref_table, _, ref_col = p.meta["references"].rpartition(".")
        other = self.tables.get(ref_table)
        if other is None or not other.files:
            return Reduced(skipped=f"{p.type} on {k['column']}: {ref_table} is not built")
        col = ident(k["column"])
        orphans = self.con.execute(
            f"select t.{col} as {col}, count(*) as _n, sum(count(*)) over () as _rows "
            f"from {table.view} t anti join {other.view} r on t.{col} = r.{ident(ref_col)} "
            f"where t.{col} is not null group by all order by _n desc, 1 limit {self.options.examples}"
        ).df()
        patch = {
            "unexpected_count": int(orphans["_rows"].iloc[0]) if len(orphans) else 0,
            "element_count": rows,
        }
        return Reduced(orphans[[k["column"]]], dict(k), patch)

    def reduce_bronze(
        self, table: Table, p: Planned, rows: int, ids: Any, totals: dict[str, dict[str, int]] | None = None
    ) -> Reduced:
        """``expect_table_row_count_to_equal_bronze_tweets`` as ``expect_table_row_count_to_equal`` on the
        table's row count, the value being the number of distinct tweet ids in bronze's readable pages
        (``ids``: a pyarrow table of every readable page's tweet ids, whatever its shape); a few ids missing
        from, or extra in, the table; and, from ``totals`` (counts by source, Bronze.totals), how many pages
        were readable and how many tweets sat in the lines set aside (silver.rejected_pages)."""
        self.con.register("_bronze_page_ids", ids)
        try:
            self.con.execute(
                "create or replace temp table _bronze_ids as "
                "select distinct id from _bronze_page_ids where id is not null"
            )
        finally:
            self.con.unregister("_bronze_page_ids")
        try:
            count = int(self.con.execute("select count(*) from _bronze_ids").fetchone()[0])
            missing = self._first(
                f"select id from _bronze_ids b anti join {table.view} t on b.id = t.tweet_id"
            )
            extra = self._first(
                f"select tweet_id from {table.view} t anti join _bronze_ids b on b.id = t.tweet_id"
            )
        finally:
            self.con.execute("drop table _bronze_ids")
        details: dict[str, Any] = {
            "bronze_distinct_tweet_ids": count,
            "missing_from_table": missing,
            "not_in_bronze": extra,
        }
        if totals is not None:
            details["readable_pages"] = sum(t["pages"] for t in totals.values())
            details["rejected_lines"] = sum(t["rejected"] for t in totals.values())
            details["tweets_in_rejected_lines"] = sum(t["rejected_tweets"] for t in totals.values())
        return Reduced(
            pd.DataFrame(index=pd.RangeIndex(rows)), {**p.kwargs, "value": count}, {"details": details}
        )

    def _first(self, sql: str) -> list[Any]:
        return [r[0] for r in self.con.execute(f"{sql} order by 1 limit {self.options.examples}").fetchall()]
