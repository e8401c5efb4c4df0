"""``tweetlake compliance``: honour deletions, protections, suspensions and scrubbed locations in every layer.

1. The lake's post and user ids (silver.tweets, silver.users) go to one batch compliance job per type
   (:mod:`ingestion.compliance`); the results land in ``_state/compliance/results/`` as downloaded and
   silver.compliance_events reads them.
2. Bronze is redacted (:mod:`ingestion.redact`) with the events of every job recorded so far, so what was
   removed never comes back, even from a full refresh. Every build first applies the recorded events to the
   bronze files it has not read yet (:func:`redact_new_bronze`): a replayed capture or a window ingested
   again brings nothing removed back either.
3. Silver and gold are rebuilt from the redacted bronze through the usual build, quality gate and publish:
   the build sees bronze objects rewritten and rebuilds silver (``dbt_runtime.runner``), the gate judges the
   result, publish replaces gold (Delta), its Parquet and CSV exports and the lake report. The removal goes
   through write-audit-publish like any change, never around it.
4. The quality reports lose the offending rows that named removed ids (:mod:`expectations.redact`).
5. Gold's older Delta versions still hold what was removed (their files, and their commits' column
   statistics): they are purged (:func:`foundation.delta.purge_history`), so time travel and rollback
   reach only versions without it (``--keep-history`` keeps them, for a lake whose history is purged by
   hand).

The whole run holds the lake's lease (``compliance``), so no build or publish runs between its steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foundation.lake import Lake
from foundation.layout import COMPLIANCE, STAGING_SILVER
from foundation.lease import lake_lease
from foundation.settings import Settings
from ingestion.bronze import new_run_id
from ingestion.compliance import (
    JOB_TYPES,
    RESULTS_GLOB,
    ComplianceRunner,
    Events,
    JobResult,
    recorded_events,
)
from ingestion.redact import Redaction, redact_bronze
from ingestion.sources import make_source

log = logging.getLogger(__name__)
REBUILD_PENDING = f"{COMPLIANCE}/rebuild_pending.json"  # a redaction whose rebuild has not published yet


@dataclass
class ComplianceSummary:
    run_id: str
    jobs: list[JobResult] = field(default_factory=list)
    events: Events = field(default_factory=Events)
    redaction: Redaction = field(default_factory=Redaction)
    quality_rows_dropped: int = 0
    versions_vacuumed: int = 0
    rebuilt: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"compliance run {self.run_id}:"]
        lines += [
            f"  job {j.job_id} ({j.kind}): {j.ids:,} ids checked, {j.events:,} events"
            + (" (resumed)" if j.resumed else "")
            for j in self.jobs
        ]
        lines.append(f"  recorded events: {self.events.describe()}")
        lines.append(f"  {self.redaction.describe()}")
        if self.rebuilt:
            lines.append(
                "  silver and gold rebuilt from the redacted bronze, validated and published; "
                f"{self.quality_rows_dropped} offending row(s) dropped from the quality records; "
                f"{self.versions_vacuumed} file(s) of older silver and gold versions vacuumed"
            )
        else:
            lines.append("  nothing to remove: silver and gold unchanged")
        lines.append("  " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def lake_ids(lake: Lake) -> dict[str, list[str]]:
    """The distinct post and user ids of silver as built (tweets and users), sorted; none for a table not
    built."""
    import duckdb

    con = duckdb.connect()
    lake.register_with(con)
    found: dict[str, list[str]] = {}
    try:
        for kind, table, column in (("tweets", "tweets", "tweet_id"), ("users", "users", "user_id")):
            # the staged silver: every row built, the published Delta tables' and any not yet published
            staged = f"{STAGING_SILVER}/{table}"
            files = lake.glob(f"{staged}/*.parquet") + lake.glob(f"{staged}/*/*.parquet")
            if not files:
                found[kind] = []
                continue
            rows = con.execute(
                f"select distinct {column} from read_parquet(?, union_by_name = true) "
                f"where {column} is not null order by 1",
                [[lake.url(f) for f in files]],
            ).fetchall()
            found[kind] = [str(r[0]) for r in rows]
    finally:
        con.close()
    return found


def run_compliance(
    settings: Settings,
    *,
    types: tuple[str, ...] = JOB_TYPES,
    rebuild: Callable[[str], None],
    keep_history: bool = False,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> ComplianceSummary:
    """One compliance run (see the module docstring). ``rebuild(run_id)``: build, validate and publish (the
    refresh's steps, :func:`pipeline.steps.run_compliance`). ``options``: the API source's (tests:
    ``session``, ``sleep``, ``clock``)."""
    from ingestion.sources.api import ApiSource  # here: every build imports this module (redact_new_bronze)

    say = progress or log.info
    summary = ComplianceSummary(run_id=new_run_id())
    lake = Lake.from_settings(settings)
    source = make_source("api", settings.with_overrides(queries=(), accounts=()), **options)
    assert isinstance(source, ApiSource)
    with lake_lease(lake, "compliance", say=say):
        started = time.perf_counter()
        runner = ComplianceRunner(
            source,
            lake,
            poll_seconds=settings.compliance_poll_seconds,
            timeout_seconds=settings.compliance_timeout_seconds,
            say=say,
        )
        ids = lake_ids(lake)
        for kind in types:
            if ids.get(kind):
                summary.jobs.append(runner.run(kind, ids[kind]))
            else:
                say(f"no {kind} in silver to check")
        summary.seconds["jobs"] = time.perf_counter() - started

        started = time.perf_counter()
        summary.events = recorded_events(lake)
        summary.redaction = redact_bronze(lake, summary.events, run_id=summary.run_id)
        summary.seconds["redaction"] = time.perf_counter() - started
        say(summary.redaction.describe())
        # A run that stopped after its redaction (a crash, a gate that failed the rebuild) left silver or
        # published gold holding what bronze no longer has: the marker written before the rebuild, removed
        # once gold is published and purged, makes the next run rebuild even with nothing left to redact.
        if not summary.redaction.files_rewritten and not lake.exists(REBUILD_PENDING):
            return summary

        started = time.perf_counter()
        lake.write_json(REBUILD_PENDING, {"run_id": summary.run_id})
        say("rebuilding silver and gold from the redacted bronze")
        rebuild(summary.run_id)
        summary.rebuilt = True
        summary.seconds["rebuild"] = time.perf_counter() - started
        summary.quality_rows_dropped = _redact_reports(lake, summary.events)
        if not keep_history:
            summary.versions_vacuumed = _purge_history(lake, summary.run_id)
        lake.remove([REBUILD_PENDING])
    return summary


def redact_new_bronze(settings: Settings, say: Callable[[str], None] | None = None) -> Redaction | None:
    """The events recorded so far applied to the bronze files the next build reads first (a replayed
    capture, a lookup, a window ingested again may bring a removed post back): run before every build, so
    nothing removed reaches silver again. None, at the cost of one listing, when no job was ever run."""
    lake = Lake.from_settings(settings)
    if not lake.glob(RESULTS_GLOB):
        return None
    from dbt_runtime.backlog import pending_files

    events = recorded_events(lake)
    files = [f.bronze_file for f in pending_files(settings)]
    done = redact_bronze(lake, events, run_id=new_run_id(), files=files)
    if done.files_rewritten:
        (say or log.info)(f"removed posts and users found again in new bronze files: {done.describe()}")
    return done


def _purge_history(lake: Lake, run_id: str) -> int:
    """Purge the older versions of every silver and gold Delta table (:func:`foundation.delta.purge_history`):
    they hold what was removed. The number of data files vacuumed."""
    from foundation import delta
    from pipeline import silver
    from pipeline.publish import table_path
    from pipeline.versions import gold_tables, silver_tables

    metadata = {delta.RUN_ID: run_id}
    tables = [table_path(t) for t in gold_tables(lake)] + [silver.table_path(t) for t in silver_tables(lake)]
    return sum(delta.purge_history(lake, rel, metadata) for rel in tables)


def _redact_reports(lake: Lake, events: Events) -> int:
    from expectations.redact import redact_quality
    from expectations.report import write_index

    done = redact_quality(lake, events.tweets | events.users)
    write_index(lake)
    return done.rows_dropped
