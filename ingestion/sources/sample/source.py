"""The sample source: the plan's pulls, with pages rendered here or in worker processes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from foundation.times import isoformat_z
from ingestion.pages import Page
from ingestion.sources.base import Pull
from ingestion.sources.sample.plan import ENDPOINT, SINGLE, Plan, token_key
from ingestion.sources.sample.render import Rendered, Renderer
from ingestion.sources.sample.workers import Feeder
from ingestion.watermarks import WatermarkStore

PARALLEL_THRESHOLD = 300_000
COUNTS_ENDPOINT = "counts_recent"
COUNTS_DAYS = 7  # recent counts reach 7 days: a longer plan is counted in pages of a week


@dataclass
class SampleSource(Plan):
    """``tweets`` new tweets over ``days`` days ending on ``end_date``, across queries and accounts.

    ``workers``: processes that render pages; None picks 0 (in-process) below ``PARALLEL_THRESHOLD``
    tweets and up to 2 above. The output is the same whatever the number.
    """

    workers: int | None = None
    name: str = "sample"

    def __getstate__(self) -> dict[str, Any]:  # what a worker receives: the plan, not this one's caches
        state = dict(self.__dict__)
        state.pop("_renderer", None)
        return state

    def pulls(self, watermarks: WatermarkStore | None = None) -> Iterator[Pull]:
        workers = self.workers
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if self.tweets >= PARALLEL_THRESHOLD else 0
        plan = [(di, st.index) for di in range(self.days) for st in self.streams]
        feeder = Feeder(self, plan, workers) if workers > 0 else None
        try:
            for pi, (di, si) in enumerate(plan):
                s = self.streams[si]
                day = self.day_dates()[di]
                yield Pull(
                    endpoint=s.endpoint,
                    stream=s.stream,
                    run_key=f"sample-s{self.seed}-{day.isoformat()}",
                    ingest_date=day,
                    pages=self._pages(pi, di, si, feeder),
                )
            if self.counts:
                yield from self._count_pulls()
        finally:
            if feeder is not None:
                feeder.close()

    def _count_pulls(self) -> Iterator[Pull]:
        """Each query's counts, as ``GET /2/tweets/counts/recent?granularity=day`` answers them: a page
        per week of the plan, a bucket per day, landed under ``endpoint=counts_recent``."""
        days = self.day_dates()
        for s in (s for s in self.streams if s.endpoint == ENDPOINT):
            yield Pull(
                endpoint=COUNTS_ENDPOINT,
                stream=s.stream,
                run_key=f"sample-s{self.seed}-counts-{days[0].isoformat()}-{days[-1].isoformat()}",
                ingest_date=days[-1],
                pages=self._count_pages(s.index),
            )

    def _count_pages(self, si: int) -> Iterator[Page]:
        days = self.day_dates()
        fetched = datetime.combine(days[-1], time(23, 59, 59, 999000), UTC)
        for first in range(0, self.days, COUNTS_DAYS):
            chunk = range(first, min(first + COUNTS_DAYS, self.days))
            starts = [datetime.combine(days[di], time(), UTC) for di in chunk]
            counts = [self.counted(di, si) for di in chunk]
            buckets = [
                {"end": isoformat_z(at + timedelta(days=1)), "start": isoformat_z(at), "tweet_count": n}
                for at, n in zip(starts, counts, strict=True)
            ]
            body = {"data": buckets, "meta": {"total_tweet_count": sum(counts)}}
            request = {
                "query": self.streams[si].stream,
                "granularity": "day",
                "start_time": isoformat_z(starts[0]),
                "end_time": isoformat_z(starts[-1] + timedelta(days=1)),
            }
            yield Page(
                json.dumps(body, separators=(",", ":")).encode(),
                COUNTS_ENDPOINT,
                self.streams[si].stream,
                request,
                fetched_at=fetched,
                tweet_count=0,  # counts are numbers, not posts
                error_count=0,
                newest_id="",
            )

    def _pages(self, pi: int, di: int, si: int, feeder: Feeder | None) -> Iterator[Page]:
        s = self.streams[si]
        # fetched when the day is over: every tweet of the day was created before its page was fetched
        fetched = datetime.combine(self.day_dates()[di], time(23, 59, 59, 999000), UTC)
        if feeder is not None and not feeder.busy:
            rendered: Iterator[Rendered] = feeder.pages(pi)
        else:  # in this process (also when pulls are read interleaved)
            rendered = (self.render_page(di, si, n) for n in range(self.page_count(di, si)))
        first = self.request(di, si, 0)  # the other pages ask the same plus a pagination token
        paged = s.endpoint not in SINGLE
        for page_no, (body, tweets, errors, newest) in enumerate(rendered):
            yield Page(
                body,
                s.endpoint,
                s.stream,
                {**first, token_key(s.endpoint): self.token(di, si, page_no)} if page_no and paged else first,
                fetched_at=fetched,
                tweet_count=tweets,
                error_count=errors,
                newest_id=newest,
            )

    def render_page(self, day_index: int, stream_index: int, page_no: int) -> Rendered:
        """One page: ``(body, tweets, partial errors, newest id)``."""
        renderer = self.__dict__.get("_renderer")
        if renderer is None:
            renderer = self.__dict__["_renderer"] = Renderer(self)
        return renderer.page(day_index, stream_index, page_no)
