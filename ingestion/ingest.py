"""Ingest: drive a source's pulls into bronze, advance watermarks, report progress and a summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foundation.lake import Lake
from ingestion import spend
from ingestion.bronze import BronzeRun, RunSummary, new_run_id
from ingestion.mixing import FORCE_FLAG, check_sources
from ingestion.progress import Reporter
from ingestion.sources.base import Pull, Source
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    source: str
    run_id: str
    runs: list[RunSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # pulls stopped early at a budget, and why
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.runs)

    @property
    def tweets(self) -> int:
        return sum(r.tweets for r in self.runs)

    @property
    def partial_errors(self) -> int:
        return sum(r.partial_errors for r in self.runs)

    @property
    def rate_limit_waits(self) -> int:
        return sum(r.rate_limit_waits for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "run_id": self.run_id,
            "pages": self.pages,
            "tweets": self.tweets,
            "partial_errors": self.partial_errors,
            "rate_limit_waits": self.rate_limit_waits,
            "problems": self.problems,
            "stops": self.stops,
            "seconds": round(self.seconds, 3),
            "runs": [r.to_dict() for r in self.runs],
        }

    def describe(self) -> str:
        rate = self.tweets / self.seconds if self.seconds else 0.0
        line = (
            f"ingested {self.tweets:,} tweets in {self.pages:,} pages from {len(self.runs)} "
            f"stream run(s) in {self.seconds:.1f}s ({rate:,.0f} tweets/s); "
            f"{self.partial_errors:,} partial API error(s) kept in bronze"
        )
        if self.rate_limit_waits:
            line += f"; waited {self.rate_limit_waits} time(s) for a rate-limit window"
        if self.problems:
            line += f"; {len(self.problems)} problem(s) skipped, see above"
        for stop in self.stops:
            line += f"\n  stopped: {stop}"
        return line


def ingest(
    source: Source,
    lake: Lake,
    *,
    progress: Callable[[str], None] | None = None,
    reporter: Reporter | None = None,
    allow_mixed_sources: bool = False,
    force_hint: str = FORCE_FLAG,
) -> IngestSummary:
    """Land every page of every pull of ``source`` in bronze; return what was written.

    Progress (pages, tweets, rate-limit waits) goes to ``reporter`` (default: a bar on a terminal, lines
    through ``progress`` otherwise). If a pull fails, the pages it fetched are still written (whole objects,
    under its run key) before the error propagates; the run is not committed and its watermark stays, so
    rerunning replaces those pages instead of duplicating them.

    Generated (sample) pages never land in a lake of real ones, nor real ones among generated ones, unless
    ``allow_mixed_sources`` (:mod:`ingestion.mixing`; ``force_hint`` names the override in the refusal).
    """
    progress = progress or log.info
    reporter = reporter or Reporter(emit=progress, total_tweets=getattr(source, "expected_tweets", None))
    lake.ensure_bucket()
    watermarks = WatermarkStore(lake)
    summary = IngestSummary(source=source.name, run_id=new_run_id())
    started = time.perf_counter()
    checked = False
    try:
        for pull in source.pulls(watermarks):
            if not checked:
                # At the first pull, not before: a source's own problem (no token, no replay file) is the
                # more useful message, and a source with nothing to pull touches nothing anyway.
                check_sources(lake, source.name, allow_mixed=allow_mixed_sources, force=force_hint)
                checked = True
            run = BronzeRun(
                lake,
                source=source.name,
                endpoint=pull.endpoint,
                stream=pull.stream,
                run_key=pull.run_key,
                ingest_date=pull.ingest_date,
                run_id=summary.run_id,
            )
            reporter.start_pull(pull.endpoint, pull.stream)
            pull.on_wait = reporter.waiting
            requests = posts = 0
            try:
                for page in pull.pages:
                    run.add(page)
                    requests, posts = requests + 1, posts + (page.tweet_count or 0)
                    reporter.page(page.tweet_count or 0)
            except BaseException:
                _keep_partial(run)
                _record_spend(lake, source.name, pull, summary.run_id, requests, posts, failed=True)
                raise
            _record_spend(lake, source.name, pull, summary.run_id, requests, posts)
            run.summary.rate_limit_waits = pull.rate_limit_waits
            result = run.commit()
            if pull.incremental and pull.stopped:
                watermarks.hold(pull.endpoint, pull.stream, pull.oldest_id, result.newest_id, result.run_key)
            elif pull.incremental:
                watermarks.advance(pull.endpoint, pull.stream, result.newest_id, result.run_key)
            if pull.stopped:
                summary.stops.append(pull.stopped)
            summary.runs.append(result)
            reporter.end_pull(
                f"  {pull.endpoint} {pull.stream!r} {result.ingest_date}: {result.pages} pages, "
                f"{result.tweets} tweets"
            )
    finally:
        reporter.close()
    summary.problems = [str(p) for p in getattr(source, "problems", [])]
    summary.seconds = time.perf_counter() - started
    return summary


def _record_spend(
    lake: Lake, source: str, pull: Pull, run_id: str, requests: int, posts: int, *, failed: bool = False
) -> None:
    """The pull's reads in the spend ledger (:mod:`ingestion.spend`): billed even when the pull failed."""
    complete = not failed and not pull.stopped
    try:
        spend.spent(lake, source, pull.endpoint, pull.stream, run_id, requests, posts, complete)
    except Exception as exc:  # a failed pull's own error matters more; a good pull's spend must be kept
        if not failed:
            raise
        log.warning("could not record the %d post(s) this failed pull read: %s", posts, exc)


def _keep_partial(run: BronzeRun) -> None:
    """Write the pages a failed pull did fetch (never committed: the watermark stays where it was)."""
    pending = run.pending_pages
    try:
        run.flush()
    except Exception as exc:  # the original failure matters more
        log.warning("could not keep the %d page(s) fetched before the failure: %s", pending, exc)
