"""Run the expectation suites on the lake's tables with Great Expectations, keep the results, gate publish.

Tables are read from Parquet into pandas and validated through GX's pandas datasource (GX's SQL datasource
on DuckDB reports false failures: its connection closes before rows are fetched). Results land in the lake,
one record per run, and GX's Data Docs are rebuilt into ``<lake>/quality/docs``.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from expectations.suites import SuiteFile, load_suites
from ingestion.lake import Lake
from ingestion.pages import isoformat_z, utcnow

log = logging.getLogger(__name__)
QUALITY = "quality"


@dataclass
class Failure:
    suite: str
    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[Any]

    def describe(self) -> str:
        col = f" on column {self.column!r}" if self.column else ""
        count = f" ({self.unexpected_count} unexpected)" if self.unexpected_count else ""
        ex = f"; e.g. {self.examples[:5]}" if self.examples else ""
        return f"{self.suite}: {self.expectation}{col} failed{count}{ex}"


@dataclass
class SuiteResult:
    suite: str
    table: str
    rows: int
    evaluated: int
    successful: int
    success: bool
    seconds: float


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        ok = sum(s.success for s in self.suites)
        head = (
            f"validated {len(self.suites)} table(s): {ok} passed, {len(self.suites) - ok} failed "
            f"in {self.seconds:.1f}s"
        )
        return "\n".join([head, *(f"  FAILED {f.describe()}" for f in self.failures)])


class QualityGateFailed(RuntimeError):
    """Expectations failed: nothing is published; the message names tables, expectations and values."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = [f.describe() for f in report.failures[:10]]
        more = len(report.failures) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(
            "quality gate failed, nothing published:\n  "
            + "\n  ".join(lines)
            + f"\nfull results: {report.results_path}\nreport: {report.docs_path}"
        )


def table_location(lake: Lake, suite: SuiteFile, gold_root: str | None) -> str:
    """Where a suite's table lives: silver/<table>/ (a folder of Parquet), gold/<table>.parquet."""
    if suite.layer == "silver":
        return lake.url("silver", suite.table)
    root = gold_root or lake.url("gold")
    return f"{root.rstrip('/')}/{suite.table}.parquet"


def read_table(lake: Lake, location: str) -> pd.DataFrame:
    """A Parquet file or folder of the lake as a DataFrame."""
    path = lake._strip(location)
    if not lake.fs.exists(path):
        raise FileNotFoundError(f"table {location} does not exist: run `tweetlake build` first")
    return pq.read_table(path, filesystem=lake.fs).to_pandas()


def _gx_context(root: str) -> Any:
    import great_expectations as gx

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    return gx.get_context(mode="file", project_root_dir=root)


def validate(
    lake: Lake,
    *,
    run_id: str,
    layers: tuple[str, ...] = ("silver", "gold"),
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Validate every table with a suite in ``layers``; keep results and docs in ``<lake>/quality``."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    progress = progress or log.info
    report = ValidationReport(run_id=run_id, started_at=isoformat_z(utcnow()))
    started = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="tweetlake-gx-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = _gx_context(workdir)
            datasource = context.data_sources.add_pandas("lake")
            results = []
            for suite_file in [s for layer in layers for s in load_suites(layer)]:
                t0 = time.perf_counter()
                df = read_table(lake, table_location(lake, suite_file, gold_root))
                suite = context.suites.add(
                    gx.ExpectationSuite(
                        name=suite_file.name,
                        expectations=[
                            ExpectationConfiguration(
                                type=e["type"], kwargs=e.get("kwargs", {}), meta=e.get("meta", {})
                            ).to_domain_obj()
                            for e in suite_file.expectations
                        ],
                        meta=suite_file.doc.get("meta", {}),
                    )
                )
                asset = datasource.add_dataframe_asset(suite_file.name.replace(".", "_"))
                batch = asset.add_batch_definition_whole_dataframe("whole")
                definition = context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"{suite_file.name}", data=batch, suite=suite)
                )
                checkpoint = context.checkpoints.add(
                    gx.Checkpoint(
                        name=f"{suite_file.name}-{run_id}",
                        validation_definitions=[definition],
                        actions=[gx.checkpoint.UpdateDataDocsAction(name="docs")],
                        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
                    )
                )
                outcome = checkpoint.run(
                    batch_parameters={"dataframe": df},
                    run_id=gx.core.run_identifier.RunIdentifier(run_name=run_id),
                )
                stats = {"evaluated": 0, "successful": 0}
                for vr in outcome.run_results.values():
                    results.append(vr.to_json_dict())
                    stats["evaluated"] += vr.statistics["evaluated_expectations"]
                    stats["successful"] += vr.statistics["successful_expectations"]
                    for r in vr.results:
                        if not r.success:
                            report.failures.append(
                                Failure(
                                    suite=suite_file.name,
                                    expectation=r.expectation_config.type,
                                    column=r.expectation_config.kwargs.get("column"),
                                    unexpected_count=(r.result or {}).get("unexpected_count"),
                                    examples=list((r.result or {}).get("partial_unexpected_list") or [])[:10],
                                )
                            )
                sr = SuiteResult(
                    suite_file.name,
                    suite_file.table,
                    len(df),
                    stats["evaluated"],
                    stats["successful"],
                    bool(outcome.success),
                    time.perf_counter() - t0,
                )
                report.suites.append(sr)
                progress(f"  {sr.suite}: {sr.successful}/{sr.evaluated} expectations met on {sr.rows:,} rows")
        report.success = all(s.success for s in report.suites)
        report.seconds = time.perf_counter() - started
        _publish_results(lake, report, results, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _publish_results(lake: Lake, report: ValidationReport, results: list[dict], workdir: str) -> None:
    """One record per run in ``quality/runs/``, and the Data Docs site in ``quality/docs/``."""
    rel = posixpath.join(QUALITY, "runs", f"{report.run_id}.json")
    report.results_path = lake.url(rel)
    site = os.path.join(workdir, "gx", "uncommitted", "data_docs", "local_site")
    report.docs_path = lake.url(QUALITY, "docs", "index.html")
    lake.write_json(rel, {"report": report.to_dict(), "results": results})
    if os.path.isdir(site):
        for folder, _, files in os.walk(site):
            for name in files:
                local = os.path.join(folder, name)
                target = posixpath.join(QUALITY, "docs", os.path.relpath(local, site).replace(os.sep, "/"))
                lake.put_file(local, target)


def gate(report: ValidationReport) -> None:
    """Raise :class:`QualityGateFailed` unless every suite passed."""
    if not report.success:
        raise QualityGateFailed(report)


__all__ = ["QualityGateFailed", "ValidationReport", "gate", "validate", "json"]
