"""Run the expectation suites on the lake's tables with Great Expectations, keep the results, gate publish.

How a suite is evaluated (memory stays bounded whatever the lake's size)
-----------------------------------------------------------------------
Every expectation of ``suites/<layer>.<table>.json`` falls in one of three kinds:

* **row** expectations (not null, between, in set, regex, column pairs: anything GX decides row by row) run
  on batches of at most ``batch_rows`` rows (default 200,000), streamed out of the table's Parquet files by
  DuckDB (``fetch_record_batch``; only the columns the row expectations name are read). Each batch is a
  GX pandas batch; the per-batch results are merged into one result per expectation (counts summed, the
  first offending values kept). For **silver**, only the Parquet files that are new or changed since the
  last passing validation are read (what the run touched: a file's size and mtime/ETag are recorded in
  ``<lake>/quality/_state/validated.json`` after a passing run); ``full=True`` (or
  ``TWEETLAKE_QUALITY_FULL=1``) reads them all. **Gold** is always read whole.
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
* ``expect_table_row_count_to_equal_bronze_tweets``: no tweet lost or invented between layers; DuckDB
  counts the distinct ``response.data[].id`` of every bronze page (a narrow ``read_json`` schema) and GX
  checks ``expect_table_row_count_to_equal`` on silver's row count; missing ids are listed.

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

import json
import logging
import os
import posixpath
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from expectations.suites import SuiteFile, load_suites
from ingestion.lake import Lake
from ingestion.pages import isoformat_z, utcnow

log = logging.getLogger(__name__)
QUALITY = "quality"
STATE = "quality/_state/validated.json"
REQUIRED_TABLES = ("silver.tweets",)
BRONZE_GLOB = "bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl"

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
    batch_rows: int = 200_000
    memory_limit: str = "2GB"
    full: bool = False
    examples: int = 20

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> QualityOptions:
        env = dict(os.environ if env is None else env)
        opts = cls()
        if raw := env.get("TWEETLAKE_QUALITY_AS_OF", "").strip():
            opts.as_of = parse_time(raw)
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
                value = parse_time(value)
            if key == "max_age" and not isinstance(value, timedelta):
                value = timedelta(hours=float(value))
            setattr(opts, key, value)
        return opts


def parse_time(raw: str) -> datetime:
    """An ISO 8601 time (``Z`` or offset; naive means UTC) or ``now``."""
    if raw.strip().lower() == "now":
        return datetime.now(UTC)
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
        info = lake.fs.info(lake._strip(lake.url(f)))
        stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created")
        table.fingerprints[f] = f"{info.get('size')}:{stamp}"
    return table


def _sql(value: Any) -> str:
    return str(value).replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_list(lake: Lake, files: list[str]) -> str:
    return "[" + ", ".join(f"'{_sql(lake.url(f))}'" for f in files) + "]"


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


def _naive_bounds(p: Planned, naive_columns: set[str]) -> dict[str, Any]:
    """Datetime bounds for a tz-naive column (a DATE read as TIMESTAMP) without their UTC offset."""
    kwargs = dict(p.kwargs)
    if kwargs.get("column") in naive_columns:
        for key in ("min_value", "max_value"):
            v = kwargs.get(key)
            if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
                kwargs[key] = parse_time(v).astimezone(UTC).replace(tzinfo=None).isoformat()
    return kwargs


# -- merging per-batch results ---------------------------------------------------------------------------
def _merge(results: list[Any], planned: Planned, examples: int) -> dict[str, Any]:
    """One JSON result for an expectation from its per-batch GX results."""
    docs = [r.to_json_dict() for r in results]
    merged = docs[0]
    if len(docs) == 1:
        return merged
    res: dict[str, Any] = dict(merged.get("result") or {})
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in res:
            res[key] = sum(int((d.get("result") or {}).get(key) or 0) for d in docs)
    values = [v for d in docs for v in (d.get("result") or {}).get("partial_unexpected_list") or []]
    res["partial_unexpected_list"] = values[:examples]
    counts: dict[str, dict[str, Any]] = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        counts.setdefault(key, {"value": v, "count": 0})["count"] += 1
    res["partial_unexpected_counts"] = sorted(counts.values(), key=lambda c: -c["count"])[:examples]
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


# -- the run ---------------------------------------------------------------------------------------------
class _Run:
    def __init__(self, lake: Lake, options: QualityOptions, context: Any, progress: Callable[[str], None]):
        import duckdb

        from ingestion.duckdb_plugin import register_lake_filesystem

        self.lake = lake
        self.options = options
        self.context = context
        self.progress = progress
        self.con = duckdb.connect()
        register_lake_filesystem(self.con, lake.root, lake.s3_endpoint)
        self.con.execute("set TimeZone = 'UTC'")
        self.con.execute(f"set memory_limit = '{_sql(options.memory_limit)}'")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute("set enable_progress_bar = false")
        self.spill = tempfile.mkdtemp(prefix="tweetlake-gx-spill-")
        self.con.execute(f"set temp_directory = '{_sql(self.spill)}'")
        self.tables: dict[str, Table] = {}
        datasource = context.data_sources.add_pandas("lake")
        self.batch_definition = datasource.add_dataframe_asset("frames").add_batch_definition_whole_dataframe(
            "frame"
        )

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def batch(self, df: pd.DataFrame) -> Any:
        return self.batch_definition.get_batch(batch_parameters={"dataframe": df})

    def register(self, table: Table) -> None:
        self.tables[table.suite.name] = table
        if table.files:
            self.con.execute(
                f"create or replace temp view {table.view} as "
                f"select * from {_read_parquet(self.lake, table.files)}"
            )

    # reference time ------------------------------------------------------------------------------------
    def reference_time(self) -> tuple[datetime, str]:
        if self.options.as_of:
            return self.options.as_of.astimezone(UTC), "as_of setting"
        files = newest_partitions(self.lake.glob(BRONZE_GLOB))
        newest = None
        for chunk in _chunks(files, BRONZE_CHUNK):
            value = self.con.execute(
                "select max(cast(envelope.fetched_at as timestamptz)) from "
                f"read_json({_file_list(self.lake, chunk)}, "
                "format = 'newline_delimited', columns = {'envelope': 'struct(fetched_at varchar)'})"
            ).fetchone()[0]
            if value is not None and (newest is None or value > newest):
                newest = value
        if newest is not None:
            return newest.astimezone(UTC), "newest fetched_at in bronze"
        return datetime.now(UTC), "current time (bronze is empty)"

    # schema --------------------------------------------------------------------------------------------
    def schema_frame(self, table: Table) -> pd.DataFrame:
        return self.con.execute(f"select * from {table.view} limit 0").df()

    def projection(self, table: Table, columns: list[str], schema: dict[str, str]) -> str:
        parts = []
        for c in columns:
            if c not in schema:
                continue
            expr = _ident(c)
            if schema[c] == "DATE":
                expr = f"cast({expr} as timestamp) as {_ident(c)}"
            parts.append(expr)
        return ", ".join(parts) or "1 as _tweetlake_row"

    def duck_types(self, table: Table) -> dict[str, str]:
        rows = self.con.execute(f"describe select * from {table.view}").fetchall()
        return {r[0]: str(r[1]) for r in rows}

    # row expectations over batches ---------------------------------------------------------------------
    def row_batches(
        self, table: Table, files: list[str], columns: list[str], schema: dict[str, str]
    ) -> Iterator[pd.DataFrame]:
        if not files:
            return
        sql = f"select {self.projection(table, columns, schema)} from {_read_parquet(self.lake, files)}"
        reader = self.con.execute(sql).to_arrow_reader(self.options.batch_rows)
        for rb in reader:
            yield rb.to_pandas()

    # table expectations via DuckDB ---------------------------------------------------------------------
    def table_check(self, table: Table, p: Planned, rows: int) -> tuple[dict[str, Any] | None, str]:
        """The merged JSON result of a whole-table expectation; (None, why) when it cannot be evaluated."""
        k = p.kwargs
        v = table.view
        n = self.options.examples
        patch: dict[str, Any] = {}
        kwargs = dict(k)
        if p.type in ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"):
            frame = pd.DataFrame(index=pd.RangeIndex(rows))
        elif p.type in ("expect_column_max_to_be_between", "expect_column_min_to_be_between"):
            fn = "max" if "max" in p.type else "min"
            col = _ident(k["column"])
            frame = self.con.execute(f"select {fn}({col}) as {col} from {v}").df()
        elif p.type in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
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
            frame = pd.concat([keys, keys], ignore_index=True)
            patch = {"unexpected_count": dup_rows, "element_count": rows}
            if len(dup):
                patch["duplicate_keys"] = int(dup["_keys"].iloc[0])
        elif p.type == "expect_column_values_to_exist_in_table":
            ref_table, _, ref_col = p.meta["references"].rpartition(".")
            other = self.tables.get(ref_table)
            if other is None or not other.files:
                return None, f"{p.type} on {k['column']}: {ref_table} is not built"
            col = _ident(k["column"])
            orphans = self.con.execute(
                f"select t.{col} as {col}, count(*) as _n, sum(count(*)) over () as _rows "
                f"from {v} t anti join {other.view} r on t.{col} = r.{_ident(ref_col)} "
                f"where t.{col} is not null group by all order by _n desc, 1 limit {n}"
            ).df()
            frame = orphans[[k["column"]]]
            patch = {
                "unexpected_count": int(orphans["_rows"].iloc[0]) if len(orphans) else 0,
                "element_count": rows,
            }
        elif p.type == "expect_table_row_count_to_equal_bronze_tweets":
            bronze, missing, extra = self.bronze_tweets(table)
            kwargs["value"] = bronze
            frame = pd.DataFrame(index=pd.RangeIndex(rows))
            patch = {
                "details": {
                    "bronze_distinct_tweet_ids": bronze,
                    "missing_from_table": missing,
                    "not_in_bronze": extra,
                }
            }
        else:  # pragma: no cover - TABLE_TYPES and this function agree
            raise ValueError(f"no whole-table evaluation for {p.type}")
        gx_exp = _expectation(p.gx_type, kwargs, p.description, p.meta)
        result = self.batch(frame).validate(gx_exp, result_format=RESULT_FORMAT).to_json_dict()
        if patch:
            res = dict(result.get("result") or {})
            details = patch.pop("details", None)
            res.update(patch)
            if details:
                res["details"] = details
            if "unexpected_count" in patch and rows:
                res["unexpected_percent"] = 100.0 * patch["unexpected_count"] / rows
            result["result"] = res
        return result, ""

    def bronze_tweets(self, table: Table) -> tuple[int, list[str], list[str]]:
        """Distinct ``response.data[].id`` in bronze, and a few ids missing from / extra in the table."""
        n = self.options.examples
        files = self.lake.glob(BRONZE_GLOB)
        self.con.execute("create or replace temp table _bronze_ids (id varchar)")
        for chunk in _chunks(files, BRONZE_CHUNK):  # a few files at a time: DuckDB's JSON reader is greedy
            self.con.execute(
                "insert into _bronze_ids select distinct d.id from ("
                f"select unnest(response.data) as d from read_json({_file_list(self.lake, chunk)}, "
                "format = 'newline_delimited', columns = {'response': 'struct(data struct(id varchar)[])'})) "
                "where d.id is not null"
            )
        self.con.execute("create or replace temp table _bronze_ids as select distinct id from _bronze_ids")
        count = self.con.execute("select count(*) from _bronze_ids").fetchone()[0]
        missing = [
            r[0]
            for r in self.con.execute(
                f"select id from _bronze_ids b anti join {table.view} t on b.id = t.tweet_id "
                f"order by id limit {n}"
            ).fetchall()
        ]
        extra = [
            r[0]
            for r in self.con.execute(
                f"select tweet_id from {table.view} t anti join _bronze_ids b on b.id = t.tweet_id "
                f"order by tweet_id limit {n}"
            ).fetchall()
        ]
        self.con.execute("drop table _bronze_ids")
        return int(count), missing, extra


BRONZE_CHUNK = 8


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
    new_state: dict[str, dict[str, str]] = {}
    results: list[dict[str, Any]] = []
    run = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = _gx_context(workdir)
            run = _Run(lake, options, context, progress)
            as_of, source = run.reference_time()
            report.as_of, report.as_of_source = isoformat_z(as_of), source
            bounds = {
                "not_after": (as_of + options.clock_skew).isoformat(),
                "fresh_after": (as_of - options.max_age).isoformat(),
            }
            # Every suite's table is located first: references may point at tables of another layer.
            all_suites = load_suites()
            for s in all_suites:
                run.register(find_table(lake, s, gold_root))
            run_identifier = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
            for suite_file in [s for s in all_suites if s.layer in layers]:
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
                sr, suite_result = _validate_table(run, table, plan_suite(suite_file, bounds), state, report)
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
                    new_state[suite_file.name] = table.fingerprints
                progress(
                    f"  {sr.suite}: {sr.successful}/{sr.evaluated} expectations met on {sr.rows:,} rows "
                    f"({sr.rows_checked:,} read in {sr.batches} batch(es), {sr.seconds:.1f}s)"
                    + (f"; skipped: {'; '.join(sr.skipped)}" if sr.skipped else "")
                )
            context.build_data_docs()
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
    run: _Run, table: Table, planned: list[Planned], state: dict, report: ValidationReport
) -> tuple[SuiteResult, list[Any]]:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    suite_name = table.suite.name
    opts = run.options
    rows = int(run.con.execute(f"select count(*) from {table.view}").fetchone()[0])
    sr = SuiteResult(
        suite_name, table.suite.table, rows, 0, 0, True, 0.0, location=table.location, files=len(table.files)
    )
    schema = run.duck_types(table)
    naive = {c for c, t in schema.items() if t in ("DATE", "TIMESTAMP")}
    merged: dict[int, dict[str, Any]] = {}

    # schema: once, on an empty frame with the table's columns
    empty = run.schema_frame(table)
    for p in [p for p in planned if p.kind == "schema"]:
        merged[p.index] = run.batch(empty).validate(p.build(), result_format=RESULT_FORMAT).to_json_dict()

    # rows: batches of new/changed files (silver) or everything (gold)
    row_planned = [p for p in planned if p.kind == "row"]
    if table.suite.layer == "silver" and not opts.full:
        seen = state.get(suite_name, {})
        files = [f for f in table.files if seen.get(f) != table.fingerprints.get(f)]
    else:
        files = list(table.files)
    sr.files_checked = len(files)
    if row_planned:
        import great_expectations as gx

        suite = gx.ExpectationSuite(
            name=f"{suite_name}.rows",
            expectations=[
                _expectation(
                    p.gx_type, _naive_bounds(p, naive), p.description, {**p.meta, INDEX_KEY: p.index}
                )
                for p in row_planned
            ],
        )
        columns = sorted({c for p in row_planned for c in p.columns})
        per: dict[int, list[ExpectationValidationResult]] = {p.index: [] for p in row_planned}
        batches = run.row_batches(table, files, columns, schema)
        first = True
        for df in batches:
            first = False
            sr.batches += 1
            sr.rows_checked += len(df)
            out = run.batch(df).validate(suite, result_format=RESULT_FORMAT)
            for r in out.results:  # GX orders results by metric, not as the suite lists them
                per[int(r.expectation_config.meta.pop(INDEX_KEY))].append(r)
        if first:  # nothing new to read: the row expectations hold on no rows
            frame = run.con.execute(
                f"select {run.projection(table, columns, schema)} from {table.view} limit 0"
            ).df()
            out = run.batch(frame).validate(suite, result_format=RESULT_FORMAT)
            for r in out.results:  # GX orders results by metric, not as the suite lists them
                per[int(r.expectation_config.meta.pop(INDEX_KEY))].append(r)
        for p in row_planned:
            merged[p.index] = _merge(per[p.index], p, opts.examples)

    # whole table: DuckDB reduces, GX decides
    for p in [p for p in planned if p.kind == "table"]:
        try:
            result, skipped = run.table_check(table, p, rows)
        except Exception as exc:  # a missing column, a broken file: a failed check, said plainly
            result = _errored(p, exc)
            skipped = ""
        if result is None:
            sr.skipped.append(skipped)
            continue
        merged[p.index] = result

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
