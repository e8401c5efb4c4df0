"""Full-archive backfills: a query over months, in windows, resumable and idempotent (``tweetlake backfill``).

Full-archive search (``GET /2/tweets/search/all``, tweepy's ``search_all_tweets``; Pro or Enterprise
access) reaches back to 2006, where recent search reaches 7 days. A backfill cuts ``[since, until)`` into
windows (a day by default) and ingests each as its own windowed pull: its run key names the window, so a
window done again replaces its pages, never duplicates them. A window that landed whole is recorded in the
query's coverage record (``<lake>/_state/coverage/endpoint=search_all/<stream key>.json``); a rerun skips
the windows there and carries on after a crash, a failure or a budget stop. Watermarks are not touched.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from foundation.lake import Lake
from foundation.layout import COVERAGE
from foundation.settings import ConfigError
from foundation.times import isoformat_z, utcnow
from ingestion.http import ApiError
from ingestion.ingest import IngestSummary, ingest
from ingestion.pages import stream_key
from ingestion.sources.api import ApiSource, api_time

ENDPOINT = "search_all"
NO_ACCESS = (
    "full-archive search (GET /2/tweets/search/all) needs Pro or Enterprise access, which this app's "
    "token does not have. Windows within the last 7 days can be ingested with recent search instead: "
    "`tweetlake ingest --source api --start-time ... --end-time ...`."
)


@dataclass
class BackfillSummary:
    query: str
    windows: int = 0  # in the range
    skipped: int = 0  # complete before this run (the coverage record)
    done: int = 0  # completed by this run
    tweets: int = 0
    stopped: str | None = None  # why the backfill ended before the last window (a budget), if it did
    ingests: list[IngestSummary] = field(default_factory=list)

    def describe(self) -> str:
        left = self.windows - self.skipped - self.done
        line = (
            f"backfill {self.query!r}: {self.done} window(s) done now ({self.tweets:,} tweets), "
            f"{self.skipped} done before, {left} left of {self.windows}"
        )
        return line + (f"\n  stopped: {self.stopped}" if self.stopped else "")


def windows(since: datetime, until: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """``[since, until)`` in windows of ``size``, the last one cut at ``until``."""
    if size <= timedelta(0):
        raise ConfigError("the backfill window must be longer than zero")
    if since >= until:
        raise ConfigError(f"backfill: --since {api_time(since)} is not before --until {api_time(until)}")
    start = since
    while start < until:
        yield start, min(start + size, until)
        start += size


class Coverage:
    """A query's complete windows in the lake (one JSON record per query)."""

    def __init__(self, lake: Lake, query: str) -> None:
        self.lake, self.query = lake, query
        self.rel = posixpath.join(COVERAGE, f"endpoint={ENDPOINT}", f"{stream_key(query)}.json")

    @staticmethod
    def key(start: datetime, end: datetime) -> str:
        return f"{api_time(start)}/{api_time(end)}"

    def complete(self) -> dict[str, Any]:
        doc = self.lake.read_json(self.rel, {}) or {}
        return dict(doc.get("windows") or {})

    def mark(self, start: datetime, end: datetime, summary: IngestSummary) -> None:
        done = self.complete()
        done[self.key(start, end)] = {
            "run_id": summary.run_id,
            "tweets": summary.tweets,
            "pages": summary.pages,
            "completed_at": isoformat_z(utcnow()),
        }
        self.lake.write_json(
            self.rel, {"endpoint": ENDPOINT, "query": self.query, "windows": dict(sorted(done.items()))}
        )


def backfill(
    lake: Lake,
    make: Callable[[datetime, datetime], ApiSource],
    query: str,
    since: datetime,
    until: datetime,
    size: timedelta = timedelta(days=1),
    progress: Callable[[str], None] | None = None,
) -> BackfillSummary:
    """Ingest every window of ``[since, until)`` not yet complete for ``query``, oldest first.

    ``make(start, end)`` gives the full-archive source of one window (``archive=True``, the one query). A
    window stopped at a budget ends the backfill (the next run redoes that window and carries on); any
    other failure propagates after the windows before it are recorded."""
    coverage = Coverage(lake, query)
    summary = BackfillSummary(query)
    done = coverage.complete()
    for start, end in windows(since, until, size):
        summary.windows += 1
        if coverage.key(start, end) in done:
            summary.skipped += 1
            continue
        if summary.stopped:
            continue
        source = make(start, end)
        source.posts_before = summary.tweets  # one budget for the whole backfill, not one per window
        try:
            result = ingest(source, lake, progress=progress)
        except ApiError as exc:
            if "403" in str(exc):
                raise ApiError(f"{exc}\n{NO_ACCESS}") from None
            raise
        summary.ingests.append(result)
        summary.tweets += result.tweets
        if result.stops or result.problems:  # a budget ran out: this window is not whole
            summary.stopped = (result.stops or result.problems)[0]
            continue
        coverage.mark(start, end, result)
        summary.done += 1
    return summary
