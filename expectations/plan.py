"""A suite's expectations, resolved for one run: placeholders filled, our own types mapped onto GX's, and
sorted in three kinds by how they are evaluated (``row``: in batches; ``schema``: once on an empty frame;
``table``: reduced by DuckDB over the whole table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from expectations import gx_adapter
from expectations.suites import SuiteFile
from foundation.times import parse_utc

SCHEMA_TYPES = {
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
}
EXISTS_IN_TABLE = "expect_column_values_to_exist_in_table"
BRONZE_COUNT = "expect_table_row_count_to_equal_bronze_tweets"
TABLE_TYPES = {
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_column_max_to_be_between",
    "expect_column_min_to_be_between",
    EXISTS_IN_TABLE,
    BRONZE_COUNT,
}

# Dates and naive timestamps (UTC by convention in the lake) reach GX as tz-aware UTC timestamps: GX compares
# those with a suite's ISO bounds vectorized, but maps a naive microsecond column row by row in Python.
# Exact: a date is its UTC midnight, and microseconds hold every coarser unit. Naive nanosecond timestamps
# are left as they are (GX vectorizes those) and get naive bounds instead.
AS_UTC_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS"}
NAIVE_TYPES = {"TIMESTAMP_NS"}
# Likewise GX compares only int64 and float64 columns vectorized (``dtype in [int, float]``): narrower
# numbers are widened (exactly) on the way, or an INTEGER column is compared one value at a time.
WIDENED_TYPES = {
    **dict.fromkeys(("TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"), "BIGINT"),
    "FLOAT": "DOUBLE",
}


@dataclass
class Planned:
    """One suite expectation, resolved for this run (placeholders filled, custom types mapped)."""

    index: int
    kind: str  # row | schema | table
    type: str  # as written in the suite
    gx_type: str  # the GX expectation evaluated
    kwargs: dict[str, Any]
    description: str | None
    meta: dict[str, Any]

    def build(self, kwargs: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Any:
        """The GX expectation (with other kwargs or meta if given)."""
        return gx_adapter.expectation(
            self.gx_type, self.kwargs if kwargs is None else kwargs, self.description, meta or self.meta
        )

    @property
    def columns(self) -> list[str]:
        k = self.kwargs
        cols = [k.get("column"), k.get("column_A"), k.get("column_B"), *(k.get("column_list") or [])]
        return [c for c in cols if c]


def kind_of(type_: str) -> str:
    return "schema" if type_ in SCHEMA_TYPES else "table" if type_ in TABLE_TYPES else "row"


def row_expectations(suite: SuiteFile) -> list[dict[str, Any]]:
    """The suite's row expectations as written (placeholders unresolved)."""
    return [e for e in suite.expectations if kind_of(e["type"]) == "row"]


def plan_suite(suite: SuiteFile, bounds: dict[str, str]) -> list[Planned]:
    out = []
    for i, e in enumerate(suite.expectations):
        type_ = e["type"]
        kwargs = {k: _fill(v, bounds) for k, v in e.get("kwargs", {}).items()}
        meta = dict(e.get("meta", {}))
        gx_type = type_
        if type_ == EXISTS_IN_TABLE:
            gx_type = "expect_column_values_to_be_in_set"
            meta.update(
                tweetlake_check=type_, references=f"{kwargs.pop('table')}.{kwargs.pop('table_column')}"
            )
            kwargs["value_set"] = []
        elif type_ == BRONZE_COUNT:
            gx_type = "expect_table_row_count_to_equal"
            meta.update(tweetlake_check=type_)
            kwargs["value"] = 0  # replaced by the bronze count at run time
        out.append(Planned(i, kind_of(type_), type_, gx_type, kwargs, e.get("description"), meta))
    return out


def _fill(value: Any, bounds: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in bounds:
        return bounds[value[1:]]
    return value


def naive_bounds(p: Planned, naive_columns: set[str]) -> dict[str, Any]:
    """Datetime bounds for a tz-naive column (nanosecond timestamps) without their UTC offset."""
    kwargs = dict(p.kwargs)
    if kwargs.get("column") in naive_columns:
        for key in ("min_value", "max_value"):
            v = kwargs.get(key)
            if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
                kwargs[key] = parse_utc(v).astimezone(UTC).replace(tzinfo=None).isoformat()
    return kwargs
