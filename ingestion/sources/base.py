"""The one interface every source implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ingestion.pages import Page
from ingestion.watermarks import WatermarkStore


@dataclass
class Pull:
    """One run's worth of pages for one endpoint and one query/account.

    ``run_key`` is deterministic for the same request (window, watermark, file): rerunning it replaces its
    bronze pages. When ``incremental`` is true the stream's ``since_id`` watermark advances to the newest id
    seen, after every page is committed.
    """

    endpoint: str
    stream: str
    run_key: str
    ingest_date: date
    pages: Iterable[Page]
    incremental: bool = False
    notes: list[str] = field(default_factory=list)


class Source(Protocol):
    name: str

    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        """The pulls of this ingest, lazily: pages are fetched as they are iterated."""
        ...
