"""The one interface every source implements."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ingestion.pages import Page
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)


@dataclass
class Pull:
    """One run's worth of pages for one endpoint and one query/account.

    ``run_key`` is deterministic for the same request (window, watermark, file): rerunning it replaces its
    bronze pages. When ``incremental`` is true the stream's ``since_id`` watermark advances to the newest id
    seen, after every page is committed; a pull ``stopped`` early (a budget) holds it and records the gap
    below ``oldest_id`` instead (:meth:`ingestion.watermarks.WatermarkStore.hold`).

    ``rate_limit_waits`` counts the waits for a spent rate-limit window while fetching the pages (the
    source increments it; the driver copies it into the run summary). ``on_wait``, when the driver sets it,
    is called with ``(seconds, message)`` just before such a wait, so progress output can show it; without
    it the source logs the message as a warning.
    """

    endpoint: str
    stream: str
    run_key: str
    ingest_date: date
    pages: Iterable[Page]
    incremental: bool = False
    notes: list[str] = field(default_factory=list)
    rate_limit_waits: int = 0
    on_wait: Callable[[float, str], None] | None = field(default=None, repr=False)
    stopped: str | None = None  # why the pull ended before its last page (a budget), if it did
    oldest_id: str | None = None  # the oldest post id landed (where a stopped pull carries on from)

    def waiting(self, seconds: float, message: str) -> None:
        """Count a rate-limit wait and announce it (see ``on_wait``); called by sources before sleeping."""
        self.rate_limit_waits += 1
        if self.on_wait is not None:
            self.on_wait(seconds, message)
        else:
            log.warning("%s", message)


class Source(Protocol):
    name: str

    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        """The pulls of this ingest, lazily: pages are fetched as they are iterated."""
        ...
