"""The steps of a lake refresh, shared by the CLI and the Airflow DAG: ingest, build, validate, publish.

Each function takes :class:`~foundation.settings.Settings`, does one step, and returns a summary; failures
raise exceptions whose messages say what failed, where, and what to do. Nothing here imports Airflow.
Each step that rewrites the lake's tables (build, validate, publish, rollback, maintain) holds the lake's
lease (:mod:`foundation.lease`), so two machines never do so at once; a refresh holds it across its four
steps. Ingest does not (see :func:`ingest_pulls`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dbt_runtime.runner import BuildSummary, build
from foundation.lake import Lake
from foundation.layout import GOLD, SILVER, STAGING_GOLD
from foundation.lease import lake_lease
from foundation.settings import Settings
from foundation.times import parse_utc
from foundation.workdir import lake_lock
from ingestion.bronze import new_run_id
from ingestion.ingest import IngestSummary, ingest
from ingestion.mixing import FORCE_FLAG
from ingestion.sources import make_source
from pipeline.publish import PublishSummary, publish
from pipeline.query import gold_tables, silver_tables

if TYPE_CHECKING:
    from expectations.validate import ValidationReport
    from ingestion.backfill import BackfillSummary
    from ingestion.plan import Plan
    from pipeline.compliance import ComplianceSummary
    from pipeline.maintain import MaintainSummary
    from pipeline.versions import RollbackSummary, Version

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def run_ingest(
    settings: Settings,
    source: str = "sample",
    *,
    progress: Progress | None = None,
    allow_mixed_sources: bool = False,
    **options: Any,
) -> IngestSummary:
    """Pull pages from ``source`` into the lake's bronze layer (generated and real tweets never mix unless
    ``allow_mixed_sources``: :mod:`ingestion.mixing`)."""
    pulls = make_source(source, settings, **options)
    return ingest_pulls(settings, pulls, progress=progress, allow_mixed_sources=allow_mixed_sources)


def run_plan(settings: Settings, **options: Any) -> Plan:
    """Count what the next API ingest would read and cost (:mod:`ingestion.plan`); reads no post and
    writes nothing. ``options``: the API source's (``start_time``/``end_time``, and for tests ``session``,
    ``sleep``, ``clock``)."""
    from ingestion.plan import plan
    from ingestion.sources.api import ApiSource

    source = make_source("api", settings, **options)
    assert isinstance(source, ApiSource)
    return plan(settings, source)


def run_counts(
    settings: Settings,
    since: Any,
    until: Any,
    *,
    queries: tuple[str, ...] = (),
    archive: bool = False,
    granularity: str = "day",
    progress: Progress | None = None,
    **options: Any,
) -> IngestSummary:
    """Land what the counts endpoint says of ``queries`` (default: the configured ones) over ``[since,
    until)`` in bronze (:mod:`ingestion.counts`): recent counts, or full-archive ones with ``archive``.
    ``options``: the API source's (tests: ``session``, ``sleep``, ``clock``)."""
    from ingestion.counts import CountsSource
    from ingestion.sources.api import ApiSource

    scoped = settings.with_overrides(queries=tuple(queries or settings.queries), accounts=())
    # archive: the API source then skips recent search's 7-day horizon, which full-archive counts lack
    api = make_source("api", scoped, start_time=since, end_time=until, archive=archive, **options)
    assert isinstance(api, ApiSource)
    return ingest_pulls(settings, CountsSource(api, archive, granularity), progress=progress)


def run_backfill(
    settings: Settings,
    since: Any,
    until: Any,
    *,
    queries: tuple[str, ...] = (),
    window: timedelta = timedelta(days=1),
    progress: Progress | None = None,
    **options: Any,
) -> list[BackfillSummary]:
    """Full-archive backfill of ``queries`` (default: the configured ones) over ``[since, until)`` in
    windows (:mod:`ingestion.backfill`). ``options``: the API source's (tests: ``session``, ``sleep``)."""
    from ingestion.backfill import backfill
    from ingestion.sources.api import ApiSource

    start, end = parse_utc(since), parse_utc(until)
    lake = Lake.from_settings(settings)
    lake.ensure_bucket()
    summaries = []
    for query in queries or settings.queries:
        scoped = settings.with_overrides(queries=(query,), accounts=())

        def make(lo: datetime, hi: datetime, scoped: Settings = scoped) -> ApiSource:
            source = make_source("api", scoped, start_time=lo, end_time=hi, archive=True, **options)
            assert isinstance(source, ApiSource)
            return source

        summary = backfill(lake, make, query, start, end, window, progress)
        summaries.append(summary)
        if summary.stopped:  # a budget: the next queries would stop at once too
            break
    return summaries


def ingest_pulls(
    settings: Settings,
    pulls: Any,
    *,
    progress: Progress | None = None,
    allow_mixed_sources: bool = False,
    force_hint: str | None = None,
) -> IngestSummary:
    """Land the pages of ``pulls`` (a source, or the Airflow task's one stream of it) in bronze.

    No lake lease: each bronze object lands whole under its stream's own keys and a build lists bronze
    once when it starts, so ingests run beside each other (the DAG maps one task per stream) and beside a
    build, whose next run reads what they added. ``force_hint``: how the caller's user overrides a refusal
    to mix generated and real tweets (default: the CLI's flag)."""
    lake = Lake.from_settings(settings)
    lake.ensure_bucket()
    return ingest(
        pulls,
        lake,
        progress=progress,
        allow_mixed_sources=allow_mixed_sources,
        force_hint=force_hint or FORCE_FLAG,
    )


def run_build(
    settings: Settings,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> BuildSummary:
    """dbt build of silver and gold into staging, for validation before publish; new bronze files
    lose first what compliance removed (:func:`pipeline.compliance.redact_new_bronze`)."""
    from pipeline.compliance import redact_new_bronze

    lake = Lake.from_settings(settings)
    lake.ensure_bucket()
    with lake_lease(lake, "build", say=progress), lake_lock(settings.lake, wait=5):
        redact_new_bronze(settings, progress)
        return build(
            settings,
            select=select,
            full_refresh=full_refresh,
            gold_root=lake.url(STAGING_GOLD),
            progress=progress,
        )


def run_validate(
    settings: Settings,
    *,
    run_id: str | None = None,
    layers: tuple[str, ...] = ("silver", "gold"),
    progress: Progress | None = None,
    gate: bool = True,
    as_of: Any = None,
    max_age_hours: float | None = None,
    full: bool | None = None,
    run_at: Any = None,
) -> ValidationReport:
    """Validate silver and staged gold; raise ``QualityGateFailed`` (results kept) if any suite fails.

    ``as_of`` (a datetime, ISO string or "now") is the reference time of the "not in the future" and
    freshness checks, ``max_age_hours`` the freshness limit, ``full`` re-reads every silver file (not only
    new or changed ones); unset, they come from ``TWEETLAKE_QUALITY_*`` (see :mod:`expectations.validate`).
    ``run_at``: a scheduled run's time (its data interval end); without ``as_of``, freshness is judged at
    the later of it and the newest fetch in bronze, so a lake whose ingest stopped fails the gate.
    """
    from expectations.validate import QualityOptions, validate
    from expectations.validate import gate as quality_gate

    lake = Lake.from_settings(settings)
    with lake_lease(lake, "validate", say=progress):
        report = validate(
            lake,
            run_id=run_id or new_run_id(),
            layers=layers,
            gold_root=lake.url(STAGING_GOLD),
            progress=progress,
            options=QualityOptions.from_env(as_of=as_of, max_age=max_age_hours, full=full, run_at=run_at),
        )
    if gate:
        quality_gate(report)
    return report


def run_publish(settings: Settings, *, run_id: str | None = None) -> PublishSummary:
    """Promote staged silver and gold to their Delta tables (and gold's Parquet and CSV exports); refused
    (``PublishRefused``, nothing changed) unless the gate passed exactly what is staged."""
    lake = Lake.from_settings(settings)
    with lake_lease(lake, "publish"), lake_lock(settings.lake, wait=5):
        summary = publish(lake, run_id=run_id or new_run_id())
        started = time.perf_counter()
        summary.report = write_report(lake)
        summary.report_seconds = time.perf_counter() - started
        return summary


def write_report(lake: Lake) -> str:
    """The lake report (``<lake>/report/index.html``: published gold as charts), rewritten after gold
    changed; its URL, or "" when it could not be written (gold is published: said, not raised)."""
    from expectations.report import write_index
    from pipeline.lake_report import write_lake_report

    try:
        url = write_lake_report(lake)
        write_index(lake)  # the quality index links the lake report once there is one
        return url
    except Exception as exc:  # the report shows gold; it never undoes a publish or a rollback
        log.warning("could not write the lake report (gold is published): %s", exc)
        return ""


def run_history(settings: Settings) -> list[Version]:
    """Every publish and rollback, newest first (each a Delta version of every gold table, and of the
    silver tables it changed)."""
    from pipeline.versions import history

    return history(Lake.from_settings(settings))


def run_rollback(
    settings: Settings, to: str, *, run_id: str | None = None, layers: tuple[str, ...] = (SILVER, GOLD)
) -> RollbackSummary:
    """Restore gold to what run (or version) ``to`` published, and silver to its state as of that run;
    exports and ``_published.json`` follow. ``layers``: only these."""
    from pipeline.versions import rollback

    lake = Lake.from_settings(settings)
    with lake_lease(lake, "rollback"), lake_lock(settings.lake, wait=5):
        summary = rollback(lake, to, run_id=run_id or new_run_id(), layers=layers)
    write_report(lake)
    return summary


def run_compliance(
    settings: Settings,
    *,
    types: tuple[str, ...] | None = None,
    keep_history: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> ComplianceSummary:
    """Batch compliance for the lake's posts and users, and their removal from every layer
    (:mod:`pipeline.compliance`). ``options``: the API source's (tests: ``session``, ``sleep``, ``clock``)."""
    from pipeline.compliance import run_compliance

    def rebuild(run_id: str) -> None:  # the refresh's last three steps, under the compliance run's lease
        run_build(settings, progress=None)
        run_validate(settings, run_id=run_id, progress=progress)
        run_publish(settings, run_id=run_id)

    return run_compliance(
        settings,
        types=types or ("tweets", "users"),
        rebuild=rebuild,
        keep_history=keep_history,
        progress=progress,
        **options,
    )


def run_maintain(settings: Settings, *, retention_hours: float | None = None) -> MaintainSummary:
    """Compact, checkpoint and vacuum the lake's Delta tables (see :mod:`pipeline.maintain`)."""
    from pipeline.maintain import DEFAULT_RETENTION_HOURS, maintain

    lake = Lake.from_settings(settings)
    hours = DEFAULT_RETENTION_HOURS if retention_hours is None else retention_hours
    with lake_lease(lake, "maintain"):
        return maintain(lake, retention_hours=hours)


@dataclass
class RefreshSummary:
    run_id: str
    ingest: IngestSummary | None = None
    build: BuildSummary | None = None
    validation: ValidationReport | None = None
    publish: PublishSummary | None = None
    tables: dict[str, int] = field(default_factory=dict)


def refresh(
    settings: Settings,
    *,
    source: str = "sample",
    source_options: dict[str, Any] | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
    allow_mixed_sources: bool = False,
) -> RefreshSummary:
    """Ingest, build, validate, publish, in order; the first failure stops the run and is raised."""
    say = progress or log.info
    summary = RefreshSummary(run_id=new_run_id())
    lake = Lake.from_settings(settings)
    lake.ensure_bucket()
    # one lease for the four steps: no other writer between this run's build, validation and publish
    with lake_lease(lake, "refresh", say=say):
        say(f"[1/4] ingest from {source} into {settings.lake}/bronze")
        summary.ingest = run_ingest(
            settings, source, progress=say, allow_mixed_sources=allow_mixed_sources, **(source_options or {})
        )
        say(summary.ingest.describe())
        say("[2/4] build silver and gold with dbt")
        summary.build = run_build(settings, full_refresh=full_refresh, progress=None)
        say(summary.build.describe())
        say("[3/4] validate with Great Expectations")
        summary.validation = run_validate(settings, run_id=summary.run_id, progress=say)
        say(summary.validation.describe())
        say("[4/4] publish silver and gold")
        summary.publish = run_publish(settings, run_id=summary.run_id)
        say(summary.publish.describe())
    summary.tables = table_counts(settings)
    return summary


def table_counts(settings: Settings) -> dict[str, int]:
    """Row counts of every published silver and gold table (``silver/tweets``, ``gold/tweets_export``):
    each Delta table's current version (its files' row counts, from the log), or a table's plain Parquet."""
    import duckdb

    from foundation import delta

    lake = Lake.from_settings(settings)
    con = duckdb.connect()
    lake.register_with(con)

    def rows(url: str) -> int:
        found = con.execute("select count(*) from read_parquet(?, union_by_name = true)", [url]).fetchone()
        return int(found[0]) if found else 0

    counts: dict[str, int] = {}
    try:
        for layer, tables in ((SILVER, silver_tables(lake)), (GOLD, gold_tables(lake))):
            for table, kind in tables.items():
                if kind == "delta":
                    dataset = delta.open_table(lake, f"{layer}/{table}").to_pyarrow_dataset()
                    counts[f"{layer}/{table}"] = int(dataset.count_rows())
                elif layer == SILVER:
                    counts[f"{layer}/{table}"] = rows(f"{lake.url(SILVER, table)}/**/*.parquet")
                else:
                    counts[f"{layer}/{table}"] = rows(lake.url(GOLD, f"{table}.parquet"))
    finally:
        con.close()
    return counts
