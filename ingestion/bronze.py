"""Bronze: raw response pages, landed unchanged, partitioned, atomic and idempotent.

Layout (a public contract, see README)::

    <lake>/bronze/source=<source>/endpoint=<endpoint>/stream=<stream_key>/ingest_date=<YYYY-MM-DD>/
        <run_key>-<seq>.jsonl          one response page per line: {"envelope": {...}, "response": {...}}
    <lake>/_state/runs/source=.../endpoint=.../stream=.../<run_key>.json   what a committed run wrote

A run has a deterministic ``run_key`` (same window, same watermark, same replayed file -> same key).
Objects are written whole (atomic), and on commit every object an earlier attempt of the same run key left
behind is removed, so rerunning a run or a crashed run replaces its pages and never duplicates them.
"""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from foundation.lake import AtomicWriter, Lake
from foundation.layout import BRONZE, RUN_JOURNALS
from foundation.times import isoformat_z, utcnow
from ingestion.pages import Page, bronze_parts, envelope, stream_key

PAGES_PER_OBJECT = 500
BYTES_PER_OBJECT = 64 * 1024 * 1024


def stream_prefix(source: str, endpoint: str, stream: str) -> str:
    return posixpath.join(BRONZE, f"source={source}", f"endpoint={endpoint}", f"stream={stream_key(stream)}")


def new_run_id() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@dataclass
class RunSummary:
    """What one bronze run wrote."""

    source: str
    endpoint: str
    stream: str
    run_key: str
    run_id: str
    ingest_date: str
    pages: int = 0
    tweets: int = 0
    partial_errors: int = 0
    empty_pages: int = 0
    bytes: int = 0
    newest_id: str = ""
    objects: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    rate_limit_waits: int = 0
    started_at: str = ""
    finished_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BronzeRun:
    """Writes the pages of one run (one source x endpoint x stream) into bronze.

    Use as: ``run = BronzeRun(...); run.add(page) ...; summary = run.commit()``. Nothing counts as
    ingested until :meth:`commit` returns; a run that dies before it leaves whole objects that the next
    attempt with the same ``run_key`` overwrites or removes.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        source: str,
        endpoint: str,
        stream: str,
        run_key: str,
        ingest_date: date,
        run_id: str | None = None,
        pages_per_object: int = PAGES_PER_OBJECT,
        bytes_per_object: int = BYTES_PER_OBJECT,
    ) -> None:
        if "/" in run_key or run_key.startswith("."):
            raise ValueError(f"run key {run_key!r} must be a plain file name")
        self.lake = lake
        self.prefix = stream_prefix(source, endpoint, stream)
        self.partition = posixpath.join(self.prefix, f"ingest_date={ingest_date.isoformat()}")
        self.pages_per_object = pages_per_object
        self.bytes_per_object = bytes_per_object
        self.summary = RunSummary(
            source=source,
            endpoint=endpoint,
            stream=stream,
            run_key=run_key,
            run_id=run_id or new_run_id(),
            ingest_date=ingest_date.isoformat(),
            started_at=isoformat_z(utcnow()),
        )
        self._writer: AtomicWriter | None = None  # the object being written (streamed, see Lake.open_atomic)
        self._writer_rel = ""
        self._writer_pages = 0
        self._committed = False

    @property
    def pending_pages(self) -> int:
        """Pages added but not yet in a landed object."""
        return self._writer_pages

    def add(self, page: Page) -> None:
        if self._committed:
            raise RuntimeError("run already committed")
        s = self.summary
        s.pages += 1
        env = envelope(page, source=s.source, run_id=s.run_id, run_key=s.run_key, page_number=s.pages)
        writer = self._writer
        if writer is None:
            self._writer_rel = posixpath.join(self.partition, f"{s.run_key}-{len(s.objects):05d}.jsonl")
            writer = self._writer = self.lake.open_atomic(self._writer_rel)
        try:
            writer.write(*bronze_parts(env, page.body))
        except BaseException:  # a page half written: drop the object (rerunning rewrites it)
            self._writer, self._writer_pages = None, 0
            writer.abort()
            raise
        self._writer_pages += 1
        s.tweets += page.tweet_count or 0
        s.partial_errors += page.error_count or 0
        s.empty_pages += 0 if page.tweet_count else 1
        if page.newest_id and (not s.newest_id or int(page.newest_id) > int(s.newest_id)):
            s.newest_id = page.newest_id
        if self._writer_pages >= self.pages_per_object or writer.bytes >= self.bytes_per_object:
            self.flush()

    def flush(self) -> None:
        """Land the pages added so far as one whole object now (a failed pull keeps what it fetched)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._writer_pages = 0
        try:
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        s = self.summary
        s.objects.append(self._writer_rel)
        s.bytes += writer.bytes

    def commit(self) -> RunSummary:
        """Flush, remove what earlier attempts of this run key left behind, record the run."""
        self.flush()
        s = self.summary
        written = set(s.objects)
        objects = f"{self.prefix}/ingest_date=*/{s.run_key}-*.jsonl"
        earlier = self.lake.glob(objects)
        stale = [rel for rel in earlier if rel not in written]
        self.lake.remove(stale)
        self.lake.remove_temporary(objects)  # objects an earlier attempt was killed while writing
        s.replaced = stale
        s.finished_at = isoformat_z(utcnow())
        journal = posixpath.join(RUN_JOURNALS, self.prefix.removeprefix(BRONZE + "/"), f"{s.run_key}.json")
        self.lake.write_json(journal, s.to_dict())
        self._committed = True
        return s
