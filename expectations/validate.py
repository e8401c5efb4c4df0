"""Run the expectation suites on the lake's tables with Great Expectations, keep the results, gate publish.

How a suite is evaluated (memory stays bounded whatever the lake's size)
-----------------------------------------------------------------------
Every expectation of ``suites/<layer>.<table>.json`` falls in one of three kinds:

* **row** expectations (not null, between, in set, regex, column pairs: anything GX decides row by row) run
  on batches of at most ``batch_rows`` rows (default 300,000; with DuckDB's ``memory_limit`` 1 GB, a
  validation of 10M tweets peaked at 1.8-2.2 GB, against 2.6 GB with 1M rows and 2 GB), streamed out of the
  table's Parquet files by DuckDB (``to_arrow_reader``; only the columns the row expectations name are
  read). Each batch is validated by GX's pandas engine once per column set, on a frame of just those columns
  (GX copies the frame it is given for every column expectation); the per-batch results are merged into one
  result per expectation (counts summed, the first offending values kept). Dates and naive timestamps reach
  GX as UTC timestamps and narrow numbers as int64/float64 (exact), the types GX compares vectorized rather
  than value by value. Only the Parquet files that are new or changed since the last passing validation are
  read, in silver and gold alike (a file's size and mtime/ETag, the row expectations' digest and
  ``$not_after`` are recorded in ``<lake>/quality/_state/validated.json`` after a passing run; an earlier
  ``$not_after`` or edited row expectations read every file again); ``full=True`` (or
  ``TWEETLAKE_QUALITY_FULL=1``) reads them all.
* **schema** expectations (``expect_table_columns_*``) run once per table on an empty frame with the
  table's columns (DuckDB ``limit 0``).
* **table** expectations need the whole table at once (uniqueness, row counts, the newest value, references
  to other tables, the row count against bronze). DuckDB computes them over every file of the table (it
  spills to disk past ``memory_limit``) and hands GX a *small* frame that reproduces the verdict: the
  duplicated keys (each twice), the orphan values, the max value, or a zero-column frame with the table's
  row count. GX evaluates the same expectation on that frame; the exact counts from DuckDB are written
  back into the result (``unexpected_count``, ``element_count``), so the Data Docs show true numbers.

Two expectation types are ours and are mapped onto built-in GX expectations this way:

* ``expect_column_values_to_exist_in_table`` (column, table, table_column): referential integrity; DuckDB
  anti-joins the two tables, GX sees the orphan values under ``expect_column_values_to_be_in_set`` with an
  empty set (every orphan is unexpected). Skipped, with a note in the report, when the other table is
  not built.
* ``expect_table_row_count_to_equal_bronze_tweets``: no tweet lost or invented between layers; the
  distinct ``response.data[].id`` of every bronze page (decoded by msgspec, only those fields) are counted
  by DuckDB and GX checks ``expect_table_row_count_to_equal`` on silver's row count; missing ids are
  listed. What was read of each bronze file is kept in ``<lake>/quality/_state/bronze_ids.parquet`` under
  the file's size and mtime/ETag, so a run reads only new or changed bronze files (see :class:`Bronze`;
  ``full`` reads them all).

Work is split between two threads: DuckDB (row batches, whole-table reductions) runs in a background
thread one step ahead, while the main thread runs GX and, when it would wait, reads bronze (DuckDB works
without the GIL, GX and msgspec hold it). GX batches are made without GX's md5 fingerprint of the frame.

Time bounds: ``$not_after`` and ``$fresh_after`` in a suite are replaced by the *reference time* plus the
allowed clock skew, and the reference time minus the freshness ``max_age``. The reference time is, in
order: ``as_of`` given by the caller, ``TWEETLAKE_QUALITY_AS_OF`` (ISO 8601 or ``now``), else the newest
``envelope.fetched_at`` in bronze (the last time the lake heard from the API; the sample source stamps pages
with generated dates, so tests with explicit dates stay valid), else the current time. The skew (clocks
differ between the API and this machine) defaults to 5 minutes.

Tables that do not exist yet are listed as "not built" and do not fail the gate, except silver.tweets.

Results: one JSON record per run in ``<lake>/quality/runs/<run_id>.json`` (our summary and GX's results),
GX Data Docs in ``<lake>/quality/docs/`` made readable offline (:mod:`expectations.docs`), and a report
index over all runs in ``<lake>/quality/index.html`` (:mod:`expectations.report`). GX's SQL datasource on
DuckDB is not used (its connection closes before rows are fetched, which reads as failures).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import os
import posixpath
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from expectations.suites import SuiteFile, load_suites
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB, QUALITY, QUALITY_STATE
from foundation.sql import ident as _ident
from foundation.sql import literal
from foundation.times import isoformat_z, parse_utc, utcnow

log = logging.getLogger(__name__)
STATE = f"{QUALITY_STATE}/validated.json"
REQUIRED_TABLES = ("silver.tweets",)
BRONZE_IDS = f"{QUALITY_STATE}/bronze_ids.parquet"

SCHEMA_TYPES = {
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_column_to_exist",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
}
TABLE_TYPES = {
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_column_max_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_values_to_exist_in_table",
    "expect_table_row_count_to_equal_bronze_tweets",
}


# -- options ---------------------------------------------------------------------------------------------
@dataclass
class QualityOptions:
    """Knobs of a validation run; ``from_env`` reads ``TWEETLAKE_QUALITY_*`` and applies overrides."""

    as_of: datetime | None = None
    max_age: timedelta = timedelta(hours=48)
    clock_skew: timedelta = timedelta(minutes=5)
    batch_rows: int = 300_000
    memory_limit: str = "1GB"
    full: bool = False
    examples: int = 20

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> QualityOptions:
        env = dict(os.environ if env is None else env)
        opts = cls()
        if raw := env.get("TWEETLAKE_QUALITY_AS_OF", "").strip():
            opts.as_of = parse_utc(raw)
        if raw := env.get("TWEETLAKE_QUALITY_MAX_AGE_HOURS", "").strip():
            opts.max_age = timedelta(hours=float(raw))
        if raw := env.get("TWEETLAKE_QUALITY_CLOCK_SKEW_MINUTES", "").strip():
            opts.clock_skew = timedelta(minutes=float(raw))
        if raw := env.get("TWEETLAKE_QUALITY_BATCH_ROWS", "").strip():
            opts.batch_rows = max(1, int(raw))
        if raw := env.get("TWEETLAKE_QUALITY_MEMORY_LIMIT", "").strip():
            opts.memory_limit = raw
        opts.full = env.get("TWEETLAKE_QUALITY_FULL", "").strip().lower() in ("1", "true", "yes")
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "as_of" and isinstance(value, str):
                value = parse_utc(value)
            if key == "max_age" and not isinstance(value, timedelta):
                value = timedelta(hours=float(value))
            setattr(opts, key, value)
        return opts


# -- results ---------------------------------------------------------------------------------------------
@dataclass
class Failure:
    suite: str
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[Any]
    description: str = ""
    element_count: int | None = None
    observed: Any = None
    error: str = ""
    docs_page: str = ""  # relative to <lake>/quality

    def describe(self) -> str:
        col = f" on column {self.column!r}" if self.column else ""
        if self.unexpected_count is not None and self.element_count:
            count = f" ({self.unexpected_count:,} of {self.element_count:,} rows unexpected)"
        elif self.unexpected_count:
            count = f" ({self.unexpected_count:,} unexpected)"
        else:
            count = ""
        obs = f"; observed {self.observed}" if self.observed is not None and not self.examples else ""
        ex = f"; e.g. {self.examples[:5]}" if self.examples else ""
        err = f"; error: {self.error}" if self.error else ""
        why = f" [{self.description}]" if self.description else ""
        return f"{self.suite}: {self.expectation}{col} failed{count}{obs}{ex}{err}{why}"


@dataclass
class SuiteResult:
    suite: str
    table: str
    rows: int
    evaluated: int
    successful: int
    success: bool
    seconds: float
    status: str = "passed"  # passed | failed | not built
    location: str = ""
    batches: int = 0
    rows_checked: int = 0  # rows the row expectations read (silver: new or changed files only)
    files: int = 0
    files_checked: int = 0
    skipped: list[str] = field(default_factory=list)
    docs_page: str = ""  # relative to <lake>/quality


@dataclass
class ValidationReport:
    run_id: str
    started_at: str
    success: bool = True
    suites: list[SuiteResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    results_path: str = ""
    docs_path: str = ""
    index_path: str = ""
    as_of: str = ""
    as_of_source: str = ""
    not_built: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        built = [s for s in self.suites if s.status != "not built"]
        ok = sum(s.success for s in built)
        head = (
            f"validated {len(built)} table(s): {ok} passed, {len(built) - ok} failed "
            f"in {self.seconds:.1f}s (reference time {self.as_of}, from {self.as_of_source})"
        )
        lines = [head]
        if self.not_built:
            lines.append(f"  not built yet (not validated): {', '.join(self.not_built)}")
        lines.extend(f"  FAILED {f.describe()}" for f in self.failures)
        return "\n".join(lines)


class QualityGateFailed(RuntimeError):
    """Expectations failed: nothing is published; the message names tables, expectations and values."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = [f.describe() for f in report.failures[:10]]
        more = len(report.failures) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        failed = sorted({f.suite for f in report.failures})
        super().__init__(
            f"quality gate failed on {', '.join(failed) or 'the lake'}, nothing published:\n  "
            + "\n  ".join(lines)
            + f"\nfull results: {report.results_path}\nreport: {report.index_path or report.docs_path}"
        )


# -- the lake's tables -----------------------------------------------------------------------------------
@dataclass
class Table:
    suite: SuiteFile
    location: str  # URL of the folder (silver) or file (gold)
    files: list[str]  # relative to the lake root
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def view(self) -> str:
        return self.suite.name.replace(".", "__")


def table_location(lake: Lake, suite: SuiteFile, gold_root: str | None) -> str:
    """Where a suite's table lives: silver/<table>/ (a folder of Parquet), gold/<table>.parquet."""
    if suite.layer == "silver":
        return lake.url("silver", suite.table)
    root = gold_root or lake.url("gold")
    return f"{root.rstrip('/')}/{suite.table}.parquet"


def _rel(lake: Lake, url: str) -> str:
    root = lake.root.rstrip("/") + "/"
    if not url.startswith(root):
        raise ValueError(f"{url} is not inside the lake {lake.root}")
    return url[len(root) :]


def find_table(lake: Lake, suite: SuiteFile, gold_root: str | None) -> Table:
    location = table_location(lake, suite, gold_root)
    rel = _rel(lake, location)
    if suite.layer == "silver":
        files = [
            f
            for f in lake.walk_files(rel)
            if f.endswith(".parquet") and not posixpath.basename(f).startswith((".", "_"))
        ]
    else:
        files = [rel] if lake.exists(rel) else []
    table = Table(suite, location, files)
    for f in files:
        table.fingerprints[f] = _fingerprint(lake.fs.info(lake._strip(lake.url(f))))
    return table


def _file_list(lake: Lake, files: list[str]) -> str:
    return "[" + ", ".join(literal(lake.url(f)) for f in files) + "]"


def _read_parquet(lake: Lake, files: list[str]) -> str:
    return f"read_parquet({_file_list(lake, files)}, hive_partitioning = true, union_by_name = true)"


# -- GX plumbing -----------------------------------------------------------------------------------------
def _gx_context(root: str) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="file", project_root_dir=root)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = context.variables.data_docs_sites or {}
    for cfg in site.values():
        cfg["show_how_to_buttons"] = False
    context.variables.data_docs_sites = site
    context.variables.save()
    return gx.get_context(mode="file", project_root_dir=root)


def _expectation(type_: str, kwargs: dict[str, Any], description: str | None, meta: dict | None) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return ExpectationConfiguration(
        type=type_, kwargs=kwargs, meta=meta or {}, description=description
    ).to_domain_obj()


INDEX_KEY = "tweetlake_index"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
# Row expectations on big batches: BASIC (counts and the first offending values). SUMMARY would add the
# positions of offending rows in the batch (meaningless once batches merge) and build, then drop, a query
# string listing every offending row; partial_unexpected_counts are made from the values as SUMMARY does.
ROW_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 20}


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

    def build(self) -> Any:
        return _expectation(self.gx_type, self.kwargs, self.description, self.meta)

    @property
    def columns(self) -> list[str]:
        k = self.kwargs
        cols = [k.get("column"), k.get("column_A"), k.get("column_B"), *(k.get("column_list") or [])]
        return [c for c in cols if c]


def plan_suite(suite: SuiteFile, bounds: dict[str, str]) -> list[Planned]:
    out = []
    for i, e in enumerate(suite.expectations):
        type_ = e["type"]
        kwargs = {k: _fill(v, bounds) for k, v in e.get("kwargs", {}).items()}
        meta = dict(e.get("meta", {}))
        gx_type = type_
        if type_ == "expect_column_values_to_exist_in_table":
            gx_type = "expect_column_values_to_be_in_set"
            meta.update(
                tweetlake_check=type_, references=f"{kwargs.pop('table')}.{kwargs.pop('table_column')}"
            )
            kwargs["value_set"] = []
        elif type_ == "expect_table_row_count_to_equal_bronze_tweets":
            gx_type = "expect_table_row_count_to_equal"
            meta.update(tweetlake_check=type_)
            kwargs["value"] = 0  # replaced by the bronze count at run time
        kind = "schema" if type_ in SCHEMA_TYPES else "table" if type_ in TABLE_TYPES else "row"
        out.append(Planned(i, kind, type_, gx_type, kwargs, e.get("description"), meta))
    return out


def _fill(value: Any, bounds: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in bounds:
        return bounds[value[1:]]
    return value


# Dates and naive timestamps (UTC by convention in the lake) reach GX as tz-aware UTC timestamps: GX compares
# those with a suite's ISO bounds vectorized, but maps a naive microsecond column row by row in Python (2 s
# for 500,000 dates). Exact: a date is its UTC midnight, and microseconds hold every coarser unit. Naive
# nanosecond timestamps are left as they are (GX vectorizes those) and get naive bounds instead.
AS_UTC_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS"}
NAIVE_TYPES = {"TIMESTAMP_NS"}
# Likewise GX compares only int64 and float64 columns vectorized (``dtype in [int, float]``): narrower
# numbers are widened (exactly) on the way, or an INTEGER column is compared one value at a time.
WIDENED_TYPES = {
    **dict.fromkeys(("TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"), "BIGINT"),
    "FLOAT": "DOUBLE",
}


def _naive_bounds(p: Planned, naive_columns: set[str]) -> dict[str, Any]:
    """Datetime bounds for a tz-naive column (nanosecond timestamps) without their UTC offset."""
    kwargs = dict(p.kwargs)
    if kwargs.get("column") in naive_columns:
        for key in ("min_value", "max_value"):
            v = kwargs.get(key)
            if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
                kwargs[key] = parse_utc(v).astimezone(UTC).replace(tzinfo=None).isoformat()
    return kwargs


# -- merging per-batch results ---------------------------------------------------------------------------
def _value_counts(values: list[Any], limit: int) -> list[dict[str, Any]]:
    """``partial_unexpected_counts`` as GX's SUMMARY format makes them from the offending values it keeps:
    the most frequent first, then by value."""
    counts: dict[str, dict[str, Any]] = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        counts.setdefault(key, {"value": v, "count": 0})["count"] += 1
    out = list(counts.values())
    try:
        out.sort(key=lambda c: (-c["count"], c["value"]))
    except TypeError:  # values that do not compare (None among strings, dicts): by their JSON
        out.sort(key=lambda c: (-c["count"], json.dumps(c["value"], sort_keys=True, default=str)))
    return out[:limit]


def _merge(results: list[Any], planned: Planned, examples: int) -> dict[str, Any]:
    """One JSON result for an expectation from its per-batch GX results."""
    docs = [r.to_json_dict() for r in results]
    merged = docs[0]
    if len(docs) == 1:  # GX's own result, with the value counts of the SUMMARY format (see ROW_RESULT_FORMAT)
        only = merged.get("result") or {}
        if "partial_unexpected_list" in only and "partial_unexpected_counts" not in only:
            only["partial_unexpected_counts"] = _value_counts(only["partial_unexpected_list"], examples)
        return merged
    res: dict[str, Any] = dict(merged.get("result") or {})
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in res:
            res[key] = sum(int((d.get("result") or {}).get(key) or 0) for d in docs)
    values = [v for d in docs for v in (d.get("result") or {}).get("partial_unexpected_list") or []]
    res["partial_unexpected_list"] = values[:examples]
    res["partial_unexpected_counts"] = _value_counts(values, examples)
    res.pop("partial_unexpected_index_list", None)
    if "element_count" in res:
        total = res["element_count"] or 0
        missing = res.get("missing_count", 0) or 0
        unexpected = res.get("unexpected_count", 0) or 0
        nonmissing = total - missing
        res["missing_percent"] = 100.0 * missing / total if total else None
        res["unexpected_percent_total"] = 100.0 * unexpected / total if total else None
        res["unexpected_percent_nonmissing"] = 100.0 * unexpected / nonmissing if nonmissing else None
        res["unexpected_percent"] = res["unexpected_percent_nonmissing"]
    merged["result"] = res
    errors = [d for d in docs if (d.get("exception_info") or {}).get("raised_exception")]
    if errors:
        merged["exception_info"] = errors[0]["exception_info"]
    mostly = planned.kwargs.get("mostly")
    if mostly is not None and not errors and "element_count" in res:
        nonmissing = (res["element_count"] or 0) - (res.get("missing_count") or 0)
        ok = 1 - (res.get("unexpected_count") or 0) / nonmissing if nonmissing else 1
        merged["success"] = ok >= mostly
    else:
        merged["success"] = all(d["success"] for d in docs)
    return merged


# -- bronze: the tweet ids and fetch times of every page file -----------------------------------------------
# msgspec (installed with Airflow) decodes only the fields named below and skips the rest of a page: ~15x
# faster than DuckDB's read_json on the pages (whole objects per line); anything unusual takes json.loads.
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec comes with Airflow
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:

    class _BronzeTweet(msgspec.Struct):
        id: str | int | None = None

    class _BronzeResponse(msgspec.Struct):
        data: list[_BronzeTweet] | None = None

    class _BronzeEnvelope(msgspec.Struct):
        fetched_at: str | None = None

    class _BronzePage(msgspec.Struct):
        envelope: _BronzeEnvelope | None = None
        response: _BronzeResponse | None = None

    _BRONZE_PAGE = msgspec.json.Decoder(_BronzePage)


def _page_facts(line: bytes | memoryview) -> tuple[list[str], str | None]:
    """The ``response.data[].id`` and ``envelope.fetched_at`` of one bronze page (a JSON line)."""
    if msgspec is not None:
        try:
            page = _BRONZE_PAGE.decode(line)
        except msgspec.ValidationError:
            pass  # an unusual shape: the json path below reads what it can
        else:
            data = page.response.data if page.response is not None else None
            fetched = page.envelope.fetched_at if page.envelope is not None else None
            return [str(t.id) for t in data or () if t.id is not None], fetched
    doc = json.loads(bytes(line))
    doc = doc if isinstance(doc, dict) else {}
    response, envelope = doc.get("response"), doc.get("envelope")
    data = response.get("data") if isinstance(response, dict) else None
    ids = [
        str(t["id"])
        for t in (data if isinstance(data, list) else [])
        if isinstance(t, dict) and isinstance(t.get("id"), str | int) and not isinstance(t.get("id"), bool)
    ]
    fetched = envelope.get("fetched_at") if isinstance(envelope, dict) else None
    return ids, fetched if isinstance(fetched, str) else None


def _lines(fh: Any, chunk: int = 8 << 20) -> Iterator[bytes | memoryview]:
    """The lines of a binary file, read in large chunks into one reused buffer and handed out as views of
    it, valid until the next line is asked for (iterating the file splits each 250 kB page line out of
    8 kB reads into a new object: twice as slow)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    head: list[bytes] = []  # the start of a line that continues in the next chunk
    while size := fh.readinto(view):
        pos = 0
        while (end := buf.find(b"\n", pos, size)) >= 0:
            if head:
                yield b"".join([*head, view[pos:end]])
                head = []
            else:
                yield view[pos:end]
            pos = end + 1
        if pos < size:
            head.append(bytes(view[pos:size]))
    if head:
        yield b"".join(head)


def _fingerprint(info: dict[str, Any]) -> str:
    """Size and modification stamp (ETag on S3) of a file: what says it changed."""
    stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created")
    return f"{info.get('size')}:{stamp}"


class Bronze:
    """The tweet ids and newest ``envelope.fetched_at`` of each bronze file, read once per file version.

    Bronze files are written once (a run adds files). What was read of a file is kept in
    ``<lake>/quality/_state/bronze_ids.parquet`` (one row per file: path, size and mtime/ETag, newest
    fetch, distinct ids) and used while the file's fingerprint is unchanged; a new or changed file is read.
    The cache holds facts about files, not verdicts, so it is kept whether the gate passes or not."""

    def __init__(self, lake: Lake, use_cache: bool = True) -> None:
        self.lake = lake
        self.use_cache = use_cache  # False: read every file (a full validation trusts no earlier run)
        base = lake._strip(lake.root)
        hits = lake.fs.glob(f"{base}/{BRONZE_GLOB}", detail=True)
        self.fingerprints: dict[str, str] = {}
        for path, info in sorted(hits.items()):
            rel = path[len(base) :].lstrip("/")
            if not posixpath.basename(rel).startswith("."):
                self.fingerprints[rel] = _fingerprint(info)
        self._cache: Any = None  # pyarrow table of the cache file, rows of unchanged files only
        self._rows: dict[str, int] | None = None  # the cache's row of each file
        self._read: dict[str, tuple[Any, datetime | None]] = {}  # files read in this run: ids, newest
        self._unread: Iterator[str] | None = None  # files for scan_next

    def _cached(self) -> Any:
        """The cache's rows for files still in bronze with the same fingerprint (columns as written)."""
        if self._cache is None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._cache = pa.table(
                {
                    "file": pa.array([], pa.string()),
                    "fingerprint": pa.array([], pa.string()),
                    "fetched_max": pa.array([], pa.timestamp("us", tz="UTC")),
                    "ids": pa.array([], pa.large_list(pa.string())),
                }
            )
            if self.use_cache:
                try:
                    with self.lake.fs.open(self.lake._strip(self.lake.url(BRONZE_IDS)), "rb") as fh:
                        table = pq.ParquetFile(fh).read()  # not read_table: it imports pyarrow.dataset (1 s)
                    files, prints = table["file"].to_pylist(), table["fingerprint"].to_pylist()
                    keep = [self.fingerprints.get(f) == fp for f, fp in zip(files, prints, strict=True)]
                    self._cache = table.filter(pa.array(keep, pa.bool_())).select(self._cache.column_names)
                except FileNotFoundError:
                    pass
                except Exception as exc:  # a broken cache is not trusted: bronze is read again
                    log.warning("ignoring the bronze id cache %s: %s", BRONZE_IDS, exc)
        return self._cache

    def _cached_row(self, rel: str) -> int | None:
        if self._rows is None:
            self._rows = {f: i for i, f in enumerate(self._cached()["file"].to_pylist())}
        return None if rel in self._read else self._rows.get(rel)

    def _scan(self, rel: str) -> tuple[Any, datetime | None]:
        if rel not in self._read:
            import pyarrow as pa

            ids: set[str] = set()
            newest: datetime | None = None
            with self.lake.fs.open(self.lake._strip(self.lake.url(rel)), "rb") as fh:
                for n, line in enumerate(_lines(fh), 1):
                    try:
                        page_ids, fetched = _page_facts(line)
                        stamp = parse_utc(fetched) if fetched else None
                    except ValueError as exc:  # msgspec's and json's decode errors are ValueErrors
                        if not bytes(line).strip():
                            continue  # a blank line
                        raise ValueError(f"{rel}, line {n}: {exc}") from exc
                    ids.update(page_ids)
                    if stamp is not None and (newest is None or stamp > newest):
                        newest = stamp
            self._read[rel] = (pa.array(list(ids), pa.string()), newest)
        return self._read[rel]

    def scan_next(self) -> bool:
        """Read one bronze file neither cached nor read yet; False when there is none."""
        if self._unread is None:
            self._unread = iter([f for f in self.fingerprints if self._cached_row(f) is None])
        for rel in self._unread:
            if rel not in self._read:
                self._scan(rel)
                return True
        return False

    def fetched_max(self, rel: str) -> datetime | None:
        """The newest ``envelope.fetched_at`` of a bronze file (None if it has none)."""
        row = self._cached_row(rel)
        if row is not None:
            return self._cached()["fetched_max"][row].as_py()
        return self._scan(rel)[1]

    def ids(self) -> Any:
        """A pyarrow table (column ``id``) of the tweet ids of every bronze file (distinct per file)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        cached = self._cached()
        arrays = [self._scan(f)[0] for f in self.fingerprints if self._cached_row(f) is None]
        ids = pa.chunked_array([*pc.list_flatten(cached["ids"]).chunks, *arrays], pa.string())
        return pa.table({"id": ids})

    def save(self) -> None:
        """Keep what was read of new or changed files for the next run (nothing to do if none was)."""
        if not self._read:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        cached = self._cached()
        files = [f for f in self._read if f in self.fingerprints]
        fresh = pa.table(
            {
                "file": pa.array(files, pa.string()),
                "fingerprint": pa.array([self.fingerprints[f] for f in files], pa.string()),
                "fetched_max": pa.array([self._read[f][1] for f in files], pa.timestamp("us", tz="UTC")),
                "ids": pa.LargeListArray.from_arrays(
                    pa.array([0, *itertools.accumulate(len(self._read[f][0]) for f in files)], pa.int64()),
                    pa.concat_arrays([self._read[f][0] for f in files])
                    if files
                    else pa.array([], pa.string()),
                ),
            }
        )
        table = pa.concat_tables([cached, fresh.cast(cached.schema)])  # read files were not in the cache
        with tempfile.TemporaryDirectory(prefix="tweetlake-bronze-ids-") as tmp:
            local = os.path.join(tmp, "bronze_ids.parquet")
            pq.write_table(table, local, compression="zstd")
            self.lake.put_file(local, BRONZE_IDS)


@functools.cache
def _validator_class() -> type:
    """GX's validator, as ``context.get_validator`` makes it, minus a config file read per validation."""
    from great_expectations.validator.validator import Validator

    class _Validator(Validator):
        def _determine_progress_bars(self) -> bool:
            # Progress bars are off in our context (_gx_context); GX finds that out by reading and
            # substituting the context's YAML config twice per validation (9 ms, per column set and batch).
            return False

    return _Validator


# -- the run ---------------------------------------------------------------------------------------------
# A run has two sides. DuckDB reads the row batches and reduces the whole-table expectations to small frames
# (``_Duck``), in a background thread (``_Feed``); GX evaluates every expectation (``_Run``), and bronze is
# scanned, in the main thread. DuckDB works without the GIL while GX and msgspec hold it, so on two cores
# the sides overlap; the background thread runs at most one row batch ahead (memory stays bounded).
def _session(con: Any) -> Any:
    """A DuckDB connection's per-session settings (the global ones are set once, in ``_Run``)."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con


@dataclass
class _Head:
    """What DuckDB says of a table before its rows are read."""

    rows: int
    schema: dict[str, str]  # column -> DuckDB type
    empty: pd.DataFrame  # no rows, every column (for the schema expectations)
    files: list[str]  # the files whose rows the row expectations read
    no_rows: pd.DataFrame  # no rows, the columns the row expectations read


@dataclass
class _Reduced:
    """A whole-table expectation reduced by DuckDB: the small frame GX evaluates, the kwargs it evaluates
    it with, and the exact counts written back into GX's result (``patch``)."""

    frame: pd.DataFrame | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    patch: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # why it cannot be evaluated (a referenced table not built)
    error: Exception | None = None


class _Duck:
    """The DuckDB side of validating tables, on its own connection (a cursor of the run's database)."""

    def __init__(self, run: _Run, con: Any) -> None:
        self.lake = run.lake
        self.options = run.options
        self.tables = run.tables
        self.con = con

    def head(self, table: Table, row_columns: list[str], files: list[str]) -> _Head:
        rows = int(self.con.execute(f"select count(*) from {table.view}").fetchone()[0])
        described = self.con.execute(f"describe select * from {table.view}").fetchall()
        schema = {r[0]: str(r[1]) for r in described}
        empty = self.con.execute(f"select * from {table.view} limit 0").df()
        no_rows = self.con.execute(
            f"select {self.projection(row_columns, schema)} from {table.view} limit 0"
        ).df()
        return _Head(rows, schema, empty, files, no_rows)

    def projection(self, columns: list[str], schema: dict[str, str]) -> str:
        parts = []
        for c in columns:
            if c not in schema:
                continue
            expr = _ident(c)
            if schema[c] in AS_UTC_TYPES:
                expr = f"cast({expr} as timestamptz) as {_ident(c)}"
            elif schema[c] in WIDENED_TYPES:
                expr = f"cast({expr} as {WIDENED_TYPES[schema[c]]}) as {_ident(c)}"
            parts.append(expr)
        return ", ".join(parts) or "1 as _tweetlake_row"

    def row_batches(self, head: _Head, columns: list[str]) -> Iterator[pd.DataFrame]:
        """Frames of ``columns`` of ``head.files``, at most ``batch_rows`` rows each, one per ``next``."""
        if not head.files:
            return
        import pyarrow as pa

        projection = self.projection(columns, head.schema)
        reader = self.con.sql(
            f"select {projection} from {_read_parquet(self.lake, head.files)}"
        ).to_arrow_reader(self.options.batch_rows)
        # DuckDB's batches are approximately batch_rows (often smaller): gather them up to batch_rows, as
        # every GX validation of a batch costs ~10 ms per expectation whatever its size.
        pending: list[Any] = []
        count = 0
        for rb in reader:
            if pending and count + rb.num_rows > self.options.batch_rows:
                yield pa.Table.from_batches(pending).to_pandas()
                pending, count = [], 0
            pending.append(rb)
            count += rb.num_rows
        if pending:
            yield pa.Table.from_batches(pending).to_pandas()

    def reduce(self, table: Table, p: Planned, rows: int) -> _Reduced:
        """A whole-table expectation (all but the bronze count, see ``reduce_bronze``) as a small frame
        that reproduces GX's verdict: duplicated keys (each twice), orphan values, the max, the row count."""
        k = p.kwargs
        v = table.view
        n = self.options.examples
        if p.type in ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"):
            return _Reduced(pd.DataFrame(index=pd.RangeIndex(rows)), dict(k))
        if p.type in ("expect_column_max_to_be_between", "expect_column_min_to_be_between"):
            fn = "max" if "max" in p.type else "min"
            col = _ident(k["column"])
            return _Reduced(self.con.execute(f"select {fn}({col}) as {col} from {v}").df(), dict(k))
        if p.type in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            cols = [k["column"]] if "column" in k else list(k["column_list"])
            sel = ", ".join(_ident(c) for c in cols)
            notnull = " and ".join(f"{_ident(c)} is not null" for c in cols)
            if p.type == "expect_compound_columns_to_be_unique":
                notnull = " or ".join(f"{_ident(c)} is not null" for c in cols)
            dup = self.con.execute(
                f"select {sel}, count(*) as _n, sum(count(*)) over () as _rows, count(*) over () as _keys "
                f"from {v} where {notnull} group by all having count(*) > 1 order by _n desc limit {n}"
            ).df()
            dup_rows = int(dup["_rows"].iloc[0]) if len(dup) else 0
            keys = dup[cols]
            patch: dict[str, Any] = {"unexpected_count": dup_rows, "element_count": rows}
            if len(dup):
                patch["duplicate_keys"] = int(dup["_keys"].iloc[0])
            return _Reduced(pd.concat([keys, keys], ignore_index=True), dict(k), patch)
        if p.type == "expect_column_values_to_exist_in_table":
            ref_table, _, ref_col = p.meta["references"].rpartition(".")
            other = self.tables.get(ref_table)
            if other is None or not other.files:
                return _Reduced(skipped=f"{p.type} on {k['column']}: {ref_table} is not built")
            col = _ident(k["column"])
            orphans = self.con.execute(
                f"select t.{col} as {col}, count(*) as _n, sum(count(*)) over () as _rows "
                f"from {v} t anti join {other.view} r on t.{col} = r.{_ident(ref_col)} "
                f"where t.{col} is not null group by all order by _n desc, 1 limit {n}"
            ).df()
            patch = {
                "unexpected_count": int(orphans["_rows"].iloc[0]) if len(orphans) else 0,
                "element_count": rows,
            }
            return _Reduced(orphans[[k["column"]]], dict(k), patch)
        raise ValueError(f"no whole-table evaluation for {p.type}")  # pragma: no cover - TABLE_TYPES

    def reduce_bronze(self, table: Table, p: Planned, rows: int, ids: Any) -> _Reduced:
        """``expect_table_row_count_to_equal_bronze_tweets`` as ``expect_table_row_count_to_equal`` on the
        table's row count, the value being the number of distinct tweet ids in bronze (``ids``: a pyarrow
        table of every page's ``response.data[].id``); a few ids missing from, or extra in, the table."""
        n = self.options.examples
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

            def first_ids(sql: str) -> list[Any]:
                return [r[0] for r in self.con.execute(f"{sql} order by 1 limit {n}").fetchall()]

            missing = first_ids(f"select id from _bronze_ids b anti join {table.view} t on b.id = t.tweet_id")
            extra = first_ids(
                f"select tweet_id from {table.view} t anti join _bronze_ids b on b.id = t.tweet_id"
            )
        finally:
            self.con.execute("drop table _bronze_ids")
        details = {"bronze_distinct_tweet_ids": count, "missing_from_table": missing, "not_in_bronze": extra}
        return _Reduced(
            pd.DataFrame(index=pd.RangeIndex(rows)), {**p.kwargs, "value": count}, {"details": details}
        )


class _Stopped(Exception):
    """The main thread stopped the feed (it failed, or is done)."""


@dataclass
class _Job:
    table: Table
    planned: list[Planned]
    files: list[str]  # the files whose rows are read

    @property
    def row_columns(self) -> list[str]:
        return sorted({c for p in self.planned if p.kind == "row" for c in p.columns})


class _Feed:
    """The DuckDB side of every job, computed in a background thread ahead of the main thread.

    Per job, in order: ``("head", _Head)``, ``("rows", frame)`` per row batch, ``("end", None)``, then
    ``("check", (index, _Reduced))`` per whole-table expectation. The thread builds a row batch only once
    the main thread took the previous one (at most two batches in memory).

    Bronze (``bronze``, when a job counts its tweets) is read by the main thread whenever it would wait for
    the next item, one file at a time; the background thread waits for the ids when it gets to the count."""

    def __init__(self, run: _Run, jobs: list[_Job], bronze: Bronze | None = None) -> None:
        self.jobs = jobs
        self.bronze = bronze
        self.bronze_ids: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.items: collections.deque[tuple[str, Any]] = collections.deque()
        self.cond = threading.Condition()
        self.frames = 0  # row batches waiting in self.items
        self.stopped = False
        self.con = _session(run.con.cursor())
        self.duck = _Duck(run, self.con)
        self.thread = threading.Thread(target=self._work, name="tweetlake-gx-duckdb", daemon=True)
        self.thread.start()

    # the background thread ---------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            for job in self.jobs:
                head = self.duck.head(job.table, job.row_columns, job.files)
                self._put("head", head)
                batches = self.duck.row_batches(head, job.row_columns)
                while True:
                    self._wait(lambda: self.frames == 0)  # build the next batch once the last is taken
                    df = next(batches, None)
                    if df is None:
                        break
                    self._put("rows", df)
                self._put("end", None)
                for p in job.planned:
                    if p.kind != "table":
                        continue
                    try:
                        if p.type == BRONZE_COUNT:
                            ids = self.bronze_ids.result()  # read by the main thread (``_read_bronze``)
                            reduced = self.duck.reduce_bronze(job.table, p, head.rows, ids)
                        else:
                            reduced = self.duck.reduce(job.table, p, head.rows)
                    except _Stopped:
                        raise
                    except Exception as exc:  # a missing column, a broken file: a failed check
                        reduced = _Reduced(error=exc)
                    self._put("check", (p.index, reduced))
        except _Stopped:
            pass
        except BaseException as exc:  # the main thread raises it where it would have happened
            with self.cond:
                self.items.append(("error", exc))
                self.cond.notify_all()

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self.cond:
            while not (self.stopped or ready()):
                self.cond.wait()
            if self.stopped:
                raise _Stopped

    def _put(self, kind: str, value: Any) -> None:
        with self.cond:
            if self.stopped:
                raise _Stopped
            self.items.append((kind, value))
            self.frames += kind == "rows"
            self.cond.notify_all()

    # the main thread ---------------------------------------------------------------------------------
    def get(self, kind: str) -> Any:
        """The next item, which must be of ``kind`` (``"rows"`` also returns None at the end of the rows)."""
        while True:
            with self.cond:
                if self.items:
                    got, value = self.items.popleft()
                    self.frames -= got == "rows"
                    self.cond.notify_all()
                    break
                if self.bronze is None or self.bronze_ids.done():
                    self.cond.wait()
                    continue
            self._read_bronze()  # instead of waiting
        if got == "error":
            raise value
        if kind == "rows" and got == "end":
            return None
        if got != kind:  # pragma: no cover - the two sides walk the jobs in the same order
            raise RuntimeError(f"quality feed out of step: expected {kind}, got {got}")
        return value

    def _read_bronze(self) -> None:
        """Read one more bronze file; once all are read, hand the ids to the background thread."""
        assert self.bronze is not None
        try:
            if not self.bronze.scan_next():
                self.bronze_ids.set_result(self.bronze.ids())
        except Exception as exc:  # a broken page: the count fails, said plainly
            self.bronze_ids.set_exception(exc)

    def close(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        if not self.bronze_ids.done():
            self.bronze_ids.set_exception(_Stopped())
        self.con.interrupt()
        self.thread.join()
        self.con.close()


BRONZE_COUNT = "expect_table_row_count_to_equal_bronze_tweets"


class _Run:
    """The main side: GX, the reference time, bronze; the run's DuckDB database (views of every table)."""

    def __init__(self, lake: Lake, options: QualityOptions, context: Any, progress: Callable[[str], None]):
        import duckdb

        self.lake = lake
        self.options = options
        self.context = context
        self.progress = progress
        self.con = _session(duckdb.connect())
        lake.register_with(self.con)
        self.con.execute(f"set memory_limit = {literal(options.memory_limit)}")
        self.con.execute("set preserve_insertion_order = false")
        self.spill = tempfile.mkdtemp(prefix="tweetlake-gx-spill-")
        self.con.execute(f"set temp_directory = {literal(self.spill)}")
        self.tables: dict[str, Table] = {}
        self.bronze = Bronze(lake, use_cache=not options.full)
        self.not_after = ""  # the resolved $not_after of this run
        self.datasource = context.data_sources.add_pandas("lake")
        self.asset = self.datasource.add_dataframe_asset("frames")
        self.asset.add_batch_definition_whole_dataframe("frame")

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def register(self, table: Table) -> None:
        """A view of the table's files (a plain view: the background thread's connection sees it too)."""
        self.tables[table.suite.name] = table
        if table.files:
            source = _read_parquet(self.lake, table.files)
            self.con.execute(f"create or replace view {table.view} as select * from {source}")

    # GX ------------------------------------------------------------------------------------------------
    def batch(self, df: pd.DataFrame) -> Any:
        """A GX batch of ``df`` on the pandas data source, made as ``DataFrameAsset.get_batch`` makes it but
        without the batch marker ``pandas_data_fingerprint`` (an md5 of every cell that nothing reads here:
        it cost more than all the expectations of a batch, and ``Batch.validate`` computes it twice)."""
        from great_expectations.core.batch import LegacyBatchDefinition
        from great_expectations.core.batch_spec import BatchMarkers, RuntimeDataBatchSpec
        from great_expectations.datasource.fluent.batch_identifier_util import make_batch_identifier
        from great_expectations.datasource.fluent.interfaces import Batch
        from great_expectations.execution_engine.pandas_batch_data import PandasBatchData

        engine = self.datasource.get_execution_engine()
        request = self.asset.build_batch_request(options={"dataframe": df})
        spec = RuntimeDataBatchSpec(batch_data=df)
        spec.batch_data = "PandasDataFrame"  # as GX leaves it: the frame lives in the batch data
        return Batch(
            datasource=self.datasource,
            data_asset=self.asset,
            batch_request=request,
            data=PandasBatchData(execution_engine=engine, dataframe=df),
            batch_markers=BatchMarkers({"ge_load_time": datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")}),
            batch_spec=spec,
            batch_definition=LegacyBatchDefinition(
                datasource_name=self.datasource.name,
                data_connector_name="fluent",
                data_asset_name=self.asset.name,
                batch_identifiers=make_batch_identifier(request.options),
            ),
        )

    def evaluate(
        self, df: pd.DataFrame, expectations: list[Any], result_format: dict[str, Any] = RESULT_FORMAT
    ) -> list[Any]:
        """GX's results of ``expectations`` on ``df``, all in one validation graph (``Batch.validate``'s path:
        the validator processes the configurations and resolves their metrics together)."""
        validator = _validator_class()(
            execution_engine=self.datasource.get_execution_engine(),
            interactive_evaluation=True,
            data_context=self.context,
            batches=[self.batch(df)],
        )
        configs = validator.process_expectations_for_validation([e.configuration for e in expectations])
        return validator.graph_validate(
            configurations=configs, runtime_configuration={"result_format": dict(result_format)}
        )

    def judge(self, p: Planned, reduced: _Reduced, rows: int) -> dict[str, Any]:
        """GX's verdict on a reduced whole-table expectation, with DuckDB's exact counts written back."""
        gx_exp = _expectation(p.gx_type, reduced.kwargs, p.description, p.meta)
        [evr] = self.evaluate(reduced.frame, [gx_exp])
        result = evr.to_json_dict()
        patch = dict(reduced.patch)
        if patch:
            res = dict(result.get("result") or {})
            details = patch.pop("details", None)
            res.update(patch)
            if details:
                res["details"] = details
            if "unexpected_count" in patch and rows:
                res["unexpected_percent"] = 100.0 * patch["unexpected_count"] / rows
            result["result"] = res
        return result

    # reference time ------------------------------------------------------------------------------------
    def reference_time(self) -> tuple[datetime, str]:
        if self.options.as_of:
            return self.options.as_of.astimezone(UTC), "as_of setting"
        files = newest_partitions(list(self.bronze.fingerprints))
        stamps = [t for t in (self.bronze.fetched_max(f) for f in files) if t is not None]
        if stamps:
            return max(stamps).astimezone(UTC), "newest fetched_at in bronze"
        return datetime.now(UTC), "current time (bronze is empty)"


def newest_partitions(files: list[str]) -> list[str]:
    """The bronze files of each stream's newest ``ingest_date=`` partition (where the newest fetch is)."""
    newest: dict[str, str] = {}
    for f in files:
        stream, _, rest = f.partition("/ingest_date=")
        day = rest.split("/", 1)[0]
        if day > newest.get(stream, ""):
            newest[stream] = day
    return [
        f
        for f in files
        if f.partition("/ingest_date=")[2].split("/", 1)[0] == newest[f.partition("/ingest_date=")[0]]
    ]


def _peak_rss_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - not on Linux
        return 0.0


def validate(
    lake: Lake,
    *,
    run_id: str,
    layers: tuple[str, ...] = ("silver", "gold"),
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
    options: QualityOptions | None = None,
) -> ValidationReport:
    """Validate every table with a suite in ``layers``; keep results and docs in ``<lake>/quality``."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    options = options or QualityOptions.from_env()
    progress = progress or log.info
    report = ValidationReport(run_id=run_id, started_at=isoformat_z(utcnow()))
    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="tweetlake-gx-")
    state = lake.read_json(STATE, default={}) or {}
    new_state: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    run = None
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")
            context = _gx_context(workdir)
            run = _Run(lake, options, context, progress)
            as_of, source = run.reference_time()
            report.as_of, report.as_of_source = isoformat_z(as_of), source
            bounds = {
                "not_after": (as_of + options.clock_skew).isoformat(),
                "fresh_after": (as_of - options.max_age).isoformat(),
            }
            run.not_after = bounds["not_after"]
            # Every suite's table is located first: references may point at tables of another layer.
            all_suites = load_suites()
            for s in all_suites:
                run.register(find_table(lake, s, gold_root))
            run_identifier = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
            suites = [s for s in all_suites if s.layer in layers]
            jobs = {}
            for suite_file in suites:
                table = run.tables[suite_file.name]
                if table.files:
                    files = (
                        table.files
                        if options.full
                        else _unvalidated(table, state.get(suite_file.name), run.not_after)
                    )
                    jobs[suite_file.name] = _Job(table, plan_suite(suite_file, bounds), list(files))
            needs_bronze = any(p.type == BRONZE_COUNT for j in jobs.values() for p in j.planned)
            feed = _Feed(run, list(jobs.values()), run.bronze if needs_bronze else None)
            stack.callback(feed.close)
            for suite_file in suites:
                table = run.tables[suite_file.name]
                t0 = time.perf_counter()
                if not table.files:
                    sr = SuiteResult(
                        suite_file.name,
                        suite_file.table,
                        0,
                        0,
                        0,
                        True,
                        0.0,
                        status="not built",
                        location=table.location,
                    )
                    if suite_file.name in REQUIRED_TABLES:
                        sr.success, sr.status = False, "failed"
                        report.failures.append(
                            Failure(
                                suite_file.name,
                                "table exists",
                                None,
                                None,
                                [],
                                error=f"{table.location} does not exist: run `tweetlake build` first",
                            )
                        )
                    else:
                        report.not_built.append(suite_file.name)
                    report.suites.append(sr)
                    progress(f"  {suite_file.name}: not built yet ({table.location})")
                    continue
                sr, suite_result = _validate_table(run, jobs[suite_file.name], feed, report)
                sr.seconds = time.perf_counter() - t0
                suite = context.suites.add(
                    gx.ExpectationSuite(
                        name=suite_file.name,
                        expectations=[p.build() for p in plan_suite(suite_file, bounds)],
                        meta=suite_file.doc.get("meta", {}),
                    )
                )
                vr = ExpectationSuiteValidationResult(
                    success=sr.success,
                    results=suite_result,
                    suite_name=suite.name,
                    statistics={
                        "evaluated_expectations": sr.evaluated,
                        "successful_expectations": sr.successful,
                        "unsuccessful_expectations": sr.evaluated - sr.successful,
                        "success_percent": 100.0 * sr.successful / sr.evaluated if sr.evaluated else None,
                    },
                    meta={
                        "great_expectations_version": gx.__version__,
                        "run_id": run_identifier,
                        "validation_time": run_identifier.run_time,
                        "batch_spec": {
                            "table": table.location,
                            "files": len(table.files),
                            "files_checked": sr.files_checked,
                        },
                        "active_batch_definition": {
                            "datasource_name": "lake",
                            "data_connector_name": "duckdb-parquet",
                            "data_asset_name": suite_file.name,
                            "batch_identifiers": {"rows": sr.rows, "batches": sr.batches},
                        },
                        "tweetlake": {"reference_time": report.as_of, "skipped": sr.skipped},
                    },
                )
                key = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                    run_id=run_identifier,
                    batch_identifier=suite_file.table,
                )
                context.validation_results_store.store_validation_results(
                    vr, key, ExpectationSuiteIdentifier(name=suite.name)
                )
                sr.docs_page = _docs_page(key)
                for f in report.failures:
                    if f.suite == suite_file.name and not f.docs_page:
                        f.docs_page = sr.docs_page
                results.append(vr.to_json_dict())
                report.suites.append(sr)
                if sr.status == "passed":
                    new_state[suite_file.name] = {
                        "files": table.fingerprints,
                        "rows": rows_key(suite_file),
                        "not_after": bounds["not_after"],
                    }
                progress(
                    f"  {sr.suite}: {sr.successful}/{sr.evaluated} expectations met on {sr.rows:,} rows "
                    f"({sr.rows_checked:,} read in {sr.batches} batch(es), {sr.seconds:.1f}s)"
                    + (f"; skipped: {'; '.join(sr.skipped)}" if sr.skipped else "")
                )
            context.build_data_docs()
            try:
                run.bronze.save()
            except Exception as exc:  # a cache: the next run reads bronze again
                log.warning("could not keep the bronze id cache %s: %s", BRONZE_IDS, exc)
        report.success = all(s.success for s in report.suites)
        report.seconds = time.perf_counter() - started
        report.peak_rss_mb = _peak_rss_mb()
        from expectations.docs import publish_docs
        from expectations.report import write_index

        rel = posixpath.join(QUALITY, "runs", f"{report.run_id}.json")
        report.results_path = lake.url(rel)
        report.docs_path = lake.url(QUALITY, "docs", "index.html")
        report.index_path = lake.url(QUALITY, "index.html")
        lake.write_json(rel, {"report": report.to_dict(), "results": results})
        publish_docs(lake, os.path.join(workdir, "gx", "uncommitted", "data_docs", "local_site"))
        write_index(lake)
        if report.success:
            merged = {**state, **new_state}
            lake.write_json(STATE, merged)
    finally:
        if run is not None:
            run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _docs_page(key: Any) -> str:
    """Where GX's site builder puts a validation result's page, relative to ``<lake>/quality``."""
    parts = key.to_tuple()
    suite_parts = parts[0].split(".")
    rest = [str(p) for p in parts[1:]]
    return posixpath.join("docs", "validations", *suite_parts, *rest[:-1], f"{rest[-1]}.html")


def _validate_table(
    run: _Run, job: _Job, feed: _Feed, report: ValidationReport
) -> tuple[SuiteResult, list[Any]]:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    table, planned = job.table, job.planned
    suite_name = table.suite.name
    opts = run.options
    head: _Head = feed.get("head")
    rows, schema = head.rows, head.schema
    sr = SuiteResult(
        suite_name, table.suite.table, rows, 0, 0, True, 0.0, location=table.location, files=len(table.files)
    )
    sr.files_checked = len(job.files)
    naive = {c for c, t in schema.items() if t in NAIVE_TYPES}
    merged: dict[int, dict[str, Any]] = {}

    # schema: once, on an empty frame with the table's columns
    for p in [p for p in planned if p.kind == "schema"]:
        [evr] = run.evaluate(head.empty, [p.build()])
        merged[p.index] = evr.to_json_dict()

    # rows: batches of the files not validated yet under these row expectations (all of them if full).
    # One GX validation per column set, on a frame of just those columns: GX's pandas engine copies the
    # frame it is given for every column expectation (its null filter), so a wide frame costs every
    # expectation the width of the table.
    row_planned = [p for p in planned if p.kind == "row"]
    groups: dict[tuple[str, ...], list[Any]] = {}
    for p in row_planned:
        meta = {**p.meta, INDEX_KEY: p.index}
        groups.setdefault(tuple(p.columns), []).append(
            _expectation(p.gx_type, _naive_bounds(p, naive), p.description, meta)
        )
    per: dict[int, list[ExpectationValidationResult]] = {p.index: [] for p in row_planned}

    def keep(results: list[Any]) -> None:
        for r in results:  # GX orders results by metric, not as the suite lists them
            per[int(r.expectation_config.meta.pop(INDEX_KEY))].append(r)

    while (df := feed.get("rows")) is not None:
        sr.batches += 1
        sr.rows_checked += len(df)
        for cols, exps in groups.items():
            keep(run.evaluate(df[[c for c in cols if c in df.columns]], exps, ROW_RESULT_FORMAT))
        del df
    if row_planned and not sr.batches:  # nothing new to read: the row expectations hold on no rows
        keep(run.evaluate(head.no_rows, [e for exps in groups.values() for e in exps], ROW_RESULT_FORMAT))
    for p in row_planned:
        merged[p.index] = _merge(per[p.index], p, opts.examples)

    # whole table: DuckDB reduces, GX decides
    for p in [p for p in planned if p.kind == "table"]:
        index, reduced = feed.get("check")
        assert index == p.index, (index, p.index)
        if reduced.skipped:
            sr.skipped.append(reduced.skipped)
            continue
        try:
            if reduced.error is not None:
                raise reduced.error
            merged[p.index] = run.judge(p, reduced, rows)
        except Exception as exc:  # a missing column, a broken file: a failed check, said plainly
            merged[p.index] = _errored(p, exc)

    ordered = [merged[i] for i in sorted(merged)]
    sr.evaluated = len(ordered)
    sr.successful = sum(bool(r["success"]) for r in ordered)
    sr.success = sr.successful == sr.evaluated
    sr.status = "passed" if sr.success else "failed"
    for i in sorted(merged):
        r = merged[i]
        if r["success"]:
            continue
        p = planned[i]
        res = r.get("result") or {}
        exc = r.get("exception_info") or {}
        details = res.get("details") or {}
        examples = list(res.get("partial_unexpected_list") or details.get("missing_from_table") or [])
        error = (exc.get("exception_message") or "") if exc.get("raised_exception") else ""
        absent = [c for c in p.columns if c not in schema]
        if absent:
            error = f"column(s) {absent} not in the table"
        mismatched = details.get("mismatched")
        if isinstance(mismatched, dict):  # columns_to_match_set: name what is missing or unexpected
            examples = [f"missing: {c}" for c in mismatched.get("missing") or []] + [
                f"unexpected: {c}" for c in mismatched.get("unexpected") or []
            ]
        elif isinstance(mismatched, list):
            examples = [
                f"position {m.get('Expected Column Position')}: expected {m.get('Expected')!r}, "
                f"found {m.get('Found')!r}"
                for m in mismatched
            ]
        report.failures.append(
            Failure(
                suite=suite_name,
                expectation=p.type,
                column=p.kwargs.get("column")
                or (", ".join(p.kwargs["column_list"]) if "compound" in p.type else None),
                unexpected_count=res.get("unexpected_count"),
                examples=[_plain(v) for v in examples[: opts.examples]],
                description=p.description or "",
                element_count=res.get("element_count"),
                observed=_plain(res.get("observed_value")),
                error=error,
            )
        )
    return sr, [ExpectationValidationResult(**_result_kwargs(r)) for r in ordered]


def _row_expectations(suite: SuiteFile) -> list[dict[str, Any]]:
    return [e for e in suite.expectations if e["type"] not in SCHEMA_TYPES | TABLE_TYPES]


def rows_key(suite: SuiteFile) -> str:
    """A digest of a suite's row expectations as written (placeholders unresolved): a file validated under
    other row expectations is validated again."""
    rows = [{"type": e["type"], "kwargs": e.get("kwargs", {})} for e in _row_expectations(suite)]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _unvalidated(table: Table, seen: Any, not_after: str) -> list[str]:
    """The table's files that a passing run has not validated as they are now: new or changed files, or
    every file if the row expectations changed or the reference time moved back (``$not_after`` earlier:
    a later one only widens the bounds). Row expectations with another placeholder always read all."""
    placeholders = {
        v
        for e in _row_expectations(table.suite)
        for v in e.get("kwargs", {}).values()
        if isinstance(v, str) and v.startswith("$")
    }
    if (
        placeholders - {"$not_after"}
        or not isinstance(seen, dict)
        or seen.get("rows") != rows_key(table.suite)
        or not isinstance(seen.get("files"), dict)
        or parse_utc(str(seen.get("not_after") or "9999-12-31T00:00:00+00:00")) > parse_utc(not_after)
    ):
        return list(table.files)
    done = seen["files"]
    return [f for f in table.files if done.get(f) != table.fingerprints.get(f)]


def _result_kwargs(r: dict[str, Any]) -> dict[str, Any]:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    cfg = r["expectation_config"]
    return {
        "success": r["success"],
        "expectation_config": ExpectationConfiguration(
            type=cfg["type"],
            kwargs=cfg.get("kwargs", {}),
            meta=cfg.get("meta") or {},
            description=cfg.get("description"),
        ),
        "result": r.get("result") or {},
        "exception_info": r.get("exception_info") or {},
        "meta": r.get("meta") or {},
    }


def _errored(p: Planned, exc: Exception) -> dict[str, Any]:
    return {
        "success": False,
        "expectation_config": {
            "type": p.gx_type,
            "kwargs": p.kwargs,
            "meta": p.meta,
            "description": p.description,
        },
        "result": {},
        "exception_info": {
            "raised_exception": True,
            "exception_message": f"{type(exc).__name__}: {exc}",
            "exception_traceback": None,
        },
        "meta": {},
    }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def gate(report: ValidationReport) -> None:
    """Raise :class:`QualityGateFailed` unless every suite passed."""
    if not report.success:
        raise QualityGateFailed(report)


__all__ = ["QualityGateFailed", "QualityOptions", "ValidationReport", "gate", "validate"]
