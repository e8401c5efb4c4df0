"""Run the expectation suites on the lake's tables with Great Expectations, keep the results, gate publish.

How a suite is evaluated (memory stays bounded whatever the lake's size)
-----------------------------------------------------------------------
Every expectation of ``suites/<layer>.<table>.json`` falls in one of three kinds (:mod:`expectations.plan`):

* **row** expectations (not null, between, in set, regex, column pairs: anything GX decides row by row) run
  on batches of at most ``batch_rows`` rows (default 300,000, with DuckDB's ``memory_limit`` at 1 GB),
  streamed out of the table's Parquet files by DuckDB (only the columns the row expectations name are
  read). Each batch is validated by GX's pandas engine once per column set, on a frame of just those
  columns (:mod:`expectations.check_table`); the per-batch results are merged into one result per
  expectation (:mod:`expectations.merge`: counts summed, the first offending values kept). Dates and naive
  timestamps reach GX as UTC timestamps and narrow numbers as int64/float64 (exact), the types GX compares
  vectorized. Only the Parquet files that are new or changed since the last passing validation are read,
  in silver and gold alike (:mod:`expectations.state`, ``<lake>/quality/_state/validated.json``);
  ``full=True`` (or ``TWEETLAKE_QUALITY_FULL=1``) reads them all.
* **schema** expectations (``expect_table_columns_*``) run once per table on an empty frame with the
  table's columns.
* **table** expectations need the whole table at once (uniqueness, row counts, the newest value, references
  to other tables, the row count against bronze): DuckDB reduces them to small frames that reproduce GX's
  verdict, and its exact counts are written back into GX's result (:mod:`expectations.duck`).

Two expectation types are ours and are mapped onto built-in GX expectations:

* ``expect_column_values_to_exist_in_table`` (column, table, table_column): referential integrity; DuckDB
  anti-joins the two tables, GX sees the orphan values under ``expect_column_values_to_be_in_set`` with an
  empty set (every orphan is unexpected). Skipped, with a note in the report, when the other table is
  not built.
* ``expect_table_row_count_to_equal_bronze_tweets``: no tweet lost or invented between layers; the
  distinct ``response.data[].id`` of every bronze page are counted and GX checks
  ``expect_table_row_count_to_equal`` on silver's row count; missing ids are listed. What was read of each
  bronze file is kept in ``<lake>/quality/_state/bronze_ids.parquet`` (:mod:`expectations.bronze`).

DuckDB runs in a background thread one step ahead of GX, and the main thread reads bronze when it would
wait (:mod:`expectations.feed`). Every use of GX internals is in :mod:`expectations.gx_adapter`.

Time bounds: ``$not_after`` and ``$fresh_after`` in a suite are replaced by the *reference time* plus the
allowed clock skew, and the reference time minus the freshness ``max_age``. The reference time is, in
order: ``as_of`` given by the caller, ``TWEETLAKE_QUALITY_AS_OF`` (ISO 8601 or ``now``); for a scheduled
run (the Airflow DAG passes ``run_at``, its data interval end) the later of that and the newest fetch in
bronze, so an ingest that quietly stopped fails freshness ``max_age`` after its last tweet; else the newest
``envelope.fetched_at`` in bronze (the last time the lake heard from the API; the sample source stamps pages
with generated dates, so tests with explicit dates stay valid), else the current time. A failed freshness
expectation says how old the newest row is and what to check. The skew (clocks
differ between the API and this machine) defaults to 5 minutes.

Tables that do not exist yet are listed as "not built" and do not fail the gate, except silver.tweets.

Results: one JSON record per run in ``<lake>/quality/runs/<run_id>.json`` (our summary and GX's results),
GX Data Docs in ``<lake>/quality/docs/`` made readable offline (:mod:`expectations.docs`), and a report
index over all runs in ``<lake>/quality/index.html`` (:mod:`expectations.report`). A validation of staged
gold also records its verdict for publish (:mod:`expectations.gate`): publish refuses gold that failed,
was never validated, or changed since.

This module is light to import (GX, pandas and DuckDB are imported when :func:`validate` runs), so
publish and the CLI can use its names cheaply.
"""

from __future__ import annotations

import logging
import posixpath
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from expectations import rejections, state
from expectations.gate import check_publishable, record_gate
from expectations.options import QualityOptions
from expectations.results import (
    Failure,
    PublishRefused,
    QualityGateFailed,
    SuiteResult,
    ValidationReport,
    gate,
)
from expectations.suites import SuiteFile, load_suites
from expectations.tables import Table, find_table, lake_relative
from foundation.lake import Lake
from foundation.layout import (
    GOLD,
    QUALITY_DOCS,
    QUALITY_INDEX,
    QUALITY_RUNS,
    QUALITY_STATE,
    SILVER,
    STAGING_SILVER,
)
from foundation.times import isoformat_z, parse_utc, utcnow

if TYPE_CHECKING:
    from expectations.feed import Feed, Job
    from expectations.run import Run

log = logging.getLogger(__name__)
REQUIRED_TABLES = ("silver.tweets",)


def validate(
    lake: Lake,
    *,
    run_id: str,
    layers: tuple[str, ...] = ("silver", "gold"),
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
    options: QualityOptions | None = None,
) -> ValidationReport:
    """Validate every table with a suite in ``layers``; keep results and docs in ``<lake>/quality``.

    ``gold_root`` is the URL of the gold folder validated (the staged gold; published gold if None). A
    validation of staged gold records its verdict there for publish (:func:`check_publishable`), and one of
    silver (always staged) in ``_staging/silver/``."""
    from expectations.run import Run

    options = options or QualityOptions.from_env()
    report = ValidationReport(run_id=run_id, started_at=isoformat_z(utcnow()))
    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="tweetlake-gx-")
    prior = state.load(lake)
    run = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = Run(lake, options, workdir)
            all_suites = load_suites()
            for s in all_suites:  # every table first: references may point at another layer's tables
                run.register(find_table(lake, s, gold_root))
            suites = [s for s in all_suites if s.layer in layers]
            results, passed = _validate_suites(run, report, suites, prior, progress or log.info)
            too_many_rejected = _judge_rejections(run, report) if "silver" in layers else False
            t0 = time.perf_counter()
            monitors_failed = _monitors(run, report, lake) if "silver" in layers else False
            _trace(run, report)
            report.monitor_seconds = time.perf_counter() - t0
        report.success = (
            all(s.success for s in report.suites) and not too_many_rejected and not monitors_failed
        )
        report.seconds = time.perf_counter() - started
        report.peak_rss_mb = _peak_rss_mb()
        _keep_results(lake, report, results, workdir)
        if report.success:
            state.save(lake, prior, passed)
        if SILVER in layers:  # silver is always validated as staged (expectations.tables)
            silver = [run.tables[s.name] for s in suites if s.layer == SILVER]
            record_gate(lake, STAGING_SILVER, report, silver)
        if GOLD in layers and gold_root is not None:
            gold = [run.tables[s.name] for s in suites if s.layer == GOLD]
            record_gate(lake, lake_relative(lake, gold_root), report, gold)
    finally:
        if run is not None:
            run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _validate_suites(
    run: Run,
    report: ValidationReport,
    suites: list[SuiteFile],
    prior: dict[str, Any],
    progress: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Validate ``suites`` in order; GX's results of each built table, and the state of those that passed."""
    from expectations import gx_adapter
    from expectations.feed import Feed
    from expectations.plan import BRONZE_COUNT

    as_of, source = run.reference_time()
    report.as_of, report.as_of_source = isoformat_z(as_of), source
    bounds = {
        "not_after": (as_of + run.options.clock_skew).isoformat(),
        "fresh_after": (as_of - run.options.max_age).isoformat(),
    }
    jobs = _jobs(run, suites, bounds, prior)
    needs_bronze = any(p.type == BRONZE_COUNT for j in jobs.values() for p in j.planned)
    run_identifier = gx_adapter.run_identifier(report.run_id)
    results: list[dict[str, Any]] = []
    passed: dict[str, dict[str, Any]] = {}
    feed = Feed(run.duck(), list(jobs.values()), run.bronze if needs_bronze else None)
    try:
        for suite_file in suites:
            table = run.tables[suite_file.name]
            if not table.files:
                report.suites.append(_not_built(report, suite_file, table))
                progress(f"  {suite_file.name}: not built yet ({table.location})")
                continue
            sr, doc = _validate_suite(run, jobs[suite_file.name], feed, report, run_identifier)
            results.append(doc)
            report.suites.append(sr)
            if sr.status == "passed":
                passed[suite_file.name] = state.entry(table, bounds["not_after"])
            progress(_said(sr))
    finally:
        feed.close()
    for f in report.failures:
        if f.description.startswith("freshness"):
            f.hint = _freshness_hint(f, run.options, report)
    run.context.build_data_docs()
    run.keep_bronze()
    return results, passed


def _jobs(run: Run, suites: list[SuiteFile], bounds: dict[str, str], prior: dict[str, Any]) -> dict[str, Job]:
    """What the feed computes for each built table: its planned expectations and the files to read."""
    from expectations.feed import Job
    from expectations.plan import plan_suite

    jobs = {}
    for suite_file in suites:
        table = run.tables[suite_file.name]
        if table.files:
            files = (
                table.files
                if run.options.full
                else state.unvalidated(table, prior.get(suite_file.name), bounds["not_after"])
            )
            jobs[suite_file.name] = Job(table, plan_suite(suite_file, bounds), list(files))
    return jobs


def _validate_suite(
    run: Run, job: Job, feed: Feed, report: ValidationReport, run_identifier: Any
) -> tuple[SuiteResult, dict[str, Any]]:
    """One built table validated, its results stored for the Data Docs, its failures linked to its page."""
    from expectations import gx_adapter
    from expectations.check_table import validate_table

    t0 = time.perf_counter()
    sr, ordered = validate_table(run, job, feed, report.failures)
    sr.seconds = time.perf_counter() - t0
    suite = (job.table.suite.doc.get("meta", {}), [p.build() for p in job.planned])
    doc, sr.docs_page = gx_adapter.store_suite_result(
        run.context, run_identifier, sr, suite, ordered, report.as_of
    )
    for f in report.failures:
        if f.suite == sr.suite and not f.docs_page:
            f.docs_page = sr.docs_page
    return sr, doc


def _freshness_hint(f: Failure, options: QualityOptions, report: ValidationReport) -> str:
    """What a failed freshness expectation means: the newest row, how old it is, and what to check."""
    try:
        newest = parse_utc(str(f.observed))
        as_of = parse_utc(report.as_of)
    except ValueError:
        return ""
    if newest > as_of + options.clock_skew:
        return (
            f"the newest {f.column} in {f.suite} ({isoformat_z(newest)}) is after the reference time "
            f"{report.as_of} ({report.as_of_source}): check this machine's clock, or the as_of given "
            "(TWEETLAKE_QUALITY_AS_OF)"
        )
    age = (as_of - newest).total_seconds() / 3600
    limit = options.max_age.total_seconds() / 3600
    return (
        f"stale: the newest {f.column} in {f.suite} is {isoformat_z(newest)}, {age:.1f} h before the "
        f"reference time {report.as_of} ({report.as_of_source}), more than TWEETLAKE_QUALITY_MAX_AGE_HOURS="
        f"{limit:g}. Check that ingest still lands tweets: the ingest tasks' logs and tweet counts, "
        "the newest ingest_date= partitions in bronze, the bearer token, "
        f"TWEETLAKE_QUERIES/TWEETLAKE_ACCOUNTS; then refresh again. To validate an old lake on "
        "purpose, pass as_of (TWEETLAKE_QUALITY_AS_OF, `tweetlake validate --as-of`) or raise the limit"
    )


def _judge_rejections(run: Run, report: ValidationReport) -> bool:
    """The share of bronze lines set aside, by source (:mod:`expectations.rejections`): failed above it
    (True), listed below it."""
    while run.bronze.scan_next():
        pass
    failures, report.rejected = rejections.judge(run.bronze.totals(), run.options.max_rejected_share)
    report.failures.extend(failures)
    run.keep_bronze()
    return bool(failures)


def _views(run: Run) -> dict[str, str]:
    return {name: t.view for name, t in run.tables.items() if t.files}


def _monitors(run: Run, report: ValidationReport, lake: Lake) -> bool:
    """The run's monitors (:mod:`expectations.monitors`) in its report; True when one failed its threshold."""
    from expectations import monitors

    found, report.monitor_state = monitors.run_monitors(
        lake,
        run.con,
        _views(run),
        parse_utc(report.as_of),
        run.options.max_age.total_seconds() / 3600,
        previous=_previous_monitor_state(lake),
    )
    report.monitors = [m.to_dict() for m in found]
    if report.monitor_state:
        lake.write_json(MONITOR_STATE, report.monitor_state)
    failed = monitors.failures(found)
    report.failures.extend(failed)
    return bool(failed)


MONITOR_STATE = posixpath.join(QUALITY_STATE, "monitors.json")  # what the last run's monitors saw


def _previous_monitor_state(lake: Lake) -> dict[str, Any]:
    """What the last run's monitors left for this one (``quality/_state/monitors.json``; {} if none)."""
    state = lake.read_json(MONITOR_STATE, default=None)
    return state if isinstance(state, dict) else {}


def _trace(run: Run, report: ValidationReport) -> None:
    """A few offending rows of each failure, traced to their bronze line (:mod:`expectations.trace`)."""
    from expectations.trace import trace

    trace(run.lake, run.con, _views(run), report.failures)


def _not_built(report: ValidationReport, suite_file: SuiteFile, table: Table) -> SuiteResult:
    """A table with no files: listed as not built, or failed if the lake cannot do without it."""
    sr = SuiteResult(
        suite_file.name, suite_file.table, 0, 0, 0, True, 0.0, status="not built", location=table.location
    )
    if suite_file.name not in REQUIRED_TABLES:
        report.not_built.append(suite_file.name)
        return sr
    sr.success, sr.status = False, "failed"
    error = f"{table.location} does not exist: run `tweetlake build` first"
    report.failures.append(Failure(suite_file.name, "table exists", None, None, [], error=error))
    return sr


def _said(sr: SuiteResult) -> str:
    return (
        f"  {sr.suite}: {sr.successful}/{sr.evaluated} expectations met on {sr.rows:,} rows "
        f"({sr.rows_checked:,} read in {sr.batches} batch(es), {sr.seconds:.1f}s)"
        + (f"; skipped: {'; '.join(sr.skipped)}" if sr.skipped else "")
    )


def _keep_results(lake: Lake, report: ValidationReport, results: list[dict[str, Any]], workdir: str) -> None:
    """The run's record, its Data Docs pages and the report index, in ``<lake>/quality``."""
    from expectations import gx_adapter
    from expectations.docs import publish_docs
    from expectations.report import write_index

    rel = posixpath.join(QUALITY_RUNS, f"{report.run_id}.json")
    report.results_path = lake.url(rel)
    report.docs_path = lake.url(QUALITY_DOCS, "index.html")
    report.index_path = lake.url(QUALITY_INDEX)
    lake.write_json(rel, {"report": report.to_dict(), "results": results})
    publish_docs(lake, gx_adapter.site_folder(workdir))
    write_index(lake)


def _peak_rss_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # pragma: no cover - not on Linux
        return 0.0


__all__ = [
    "PublishRefused",
    "QualityGateFailed",
    "QualityOptions",
    "ValidationReport",
    "check_publishable",
    "gate",
    "validate",
]
