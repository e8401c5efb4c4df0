"""The sample source: the plan's pulls, with pages rendered here or in worker processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from ingestion.pages import Page
from ingestion.sources.base import Pull
from ingestion.sources.sample.plan import SINGLE, Plan, token_key
from ingestion.sources.sample.render import Rendered, Renderer
from ingestion.sources.sample.workers import Feeder
from ingestion.watermarks import WatermarkStore

PARALLEL_THRESHOLD = 300_000


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
        finally:
            if feeder is not None:
                feeder.close()

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
