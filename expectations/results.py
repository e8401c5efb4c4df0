"""What a validation run concludes: per-suite results, failures said plainly, the report, the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    hint: str = ""  # what to check or do, when the failure alone does not say it (freshness)
    # a few offending rows, each with the bronze file, line and page it came from (expectations.trace)
    rows: list[dict[str, Any]] = field(default_factory=list)

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
        hint = f"\n    {self.hint}" if self.hint else ""
        return f"{self.suite}: {self.expectation}{col} failed{count}{obs}{ex}{err}{why}{hint}"


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
    rows_checked: int = 0  # rows the row expectations read (new or changed files only)
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
    rejected: list[str] = field(default_factory=list)  # bronze lines set aside, by source
    monitors: list[dict[str, Any]] = field(default_factory=list)  # expectations.monitors, per run
    monitor_state: dict[str, Any] = field(default_factory=dict)  # what the next run's monitors compare with
    monitor_seconds: float = 0.0  # what the monitors and the tracing of failures to bronze took

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
        lines.extend(f"  set aside in bronze: {r}" for r in self.rejected)
        lines.extend(
            f"  monitor {m['name']} {m['status']}: {m['message']}"
            for m in self.monitors
            if m.get("status") in ("warning", "failed")
        )
        lines.extend(f"  FAILED {f.describe()}" for f in self.failures)
        return "\n".join(lines)


class QualityGateFailed(RuntimeError):
    """Expectations failed: nothing is published; the message names tables, expectations and values."""

    report: ValidationReport | None = None  # None when publish refused on the gate's record alone

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = [f.describe() for f in report.failures[:10]]
        more = len(report.failures) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        failed = sorted({f.suite for f in report.failures})
        # the failing tables' pages first: an alert cut short still links them
        quality = report.index_path.rsplit("/", 1)[0] if report.index_path else ""
        pages = {f.suite: f"{quality}/{f.docs_page}" for f in report.failures if f.docs_page and quality}
        linked = "".join(f"\n  page of {suite}: {url}" for suite, url in sorted(pages.items()))
        super().__init__(
            f"quality gate failed on {', '.join(failed) or 'the lake'}, nothing published:{linked}\n  "
            + "\n  ".join(lines)
            + f"\nfull results: {report.results_path}\nreport: {report.index_path or report.docs_path}"
        )


class PublishRefused(QualityGateFailed):
    """Publish found staged gold that failed its gate, was never validated, or changed after validation."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)  # no report: the gate's record is what was checked


def gate(report: ValidationReport) -> None:
    """Raise :class:`QualityGateFailed` unless every suite passed."""
    if not report.success:
        raise QualityGateFailed(report)
