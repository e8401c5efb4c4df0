"""The two sides of a run, overlapped: DuckDB (row batches, whole-table reductions) in a background thread
one step ahead, GX and the bronze scan in the main thread. DuckDB works without the GIL while GX and
msgspec hold it, so on two cores the sides overlap; the background thread runs at most one row batch ahead
(memory stays bounded)."""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from expectations.bronze import Bronze
from expectations.duck import Duck, Reduced
from expectations.plan import BRONZE_COUNT, Planned
from expectations.tables import Table


class Stopped(Exception):
    """The main thread stopped the feed (it failed, or is done)."""


@dataclass
class Job:
    table: Table
    planned: list[Planned]
    files: list[str]  # the files whose rows are read

    @property
    def row_columns(self) -> list[str]:
        return sorted({c for p in self.planned if p.kind == "row" for c in p.columns})


class Feed:
    """The DuckDB side of every job, computed in a background thread ahead of the main thread.

    Per job, in order: ``("head", Head)``, ``("rows", frame)`` per row batch, ``("end", None)``, then
    ``("check", (index, Reduced))`` per whole-table expectation. The thread builds a row batch only once
    the main thread took the previous one (at most two batches in memory).

    Bronze (``bronze``, when a job counts its tweets) is read by the main thread whenever it would wait for
    the next item, one file at a time; the background thread waits for the ids when it gets to the count."""

    def __init__(self, duck: Duck, jobs: list[Job], bronze: Bronze | None = None) -> None:
        self.jobs = jobs
        self.bronze = bronze
        self.bronze_ids: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.items: collections.deque[tuple[str, Any]] = collections.deque()
        self.cond = threading.Condition()
        self.frames = 0  # row batches waiting in self.items
        self.stopped = False
        self.duck = duck
        self.thread = threading.Thread(target=self._work, name="tweetlake-gx-duckdb", daemon=True)
        self.thread.start()

    # the background thread ---------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            for job in self.jobs:
                self._feed(job)
        except Stopped:
            pass
        except BaseException as exc:  # the main thread raises it where it would have happened
            with self.cond:
                self.items.append(("error", exc))
                self.cond.notify_all()

    def _feed(self, job: Job) -> None:
        head = self.duck.head(job.table, job.row_columns, job.files)
        self._put("head", head)
        batches = self.duck.row_batches(head, job.row_columns)
        while True:
            self._wait(lambda: self.frames == 0)  # build the next batch once the last is taken
            df = next(batches, None)
            if df is None:
                break
            self._put("rows", df)
        self._put("end", None)
        for p in job.planned:
            if p.kind == "table":
                self._put("check", (p.index, self._reduce(job.table, p, head.rows)))

    def _reduce(self, table: Table, p: Planned, rows: int) -> Reduced:
        try:
            if p.type == BRONZE_COUNT:
                ids, totals = self.bronze_ids.result()  # read by the main thread (``_read_bronze``)
                return self.duck.reduce_bronze(table, p, rows, ids, totals)
            return self.duck.reduce(table, p, rows)
        except Stopped:
            raise
        except Exception as exc:  # a missing column, a broken file: a failed check
            return Reduced(error=exc)

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self.cond:
            while not (self.stopped or ready()):
                self.cond.wait()
            if self.stopped:
                raise Stopped

    def _put(self, kind: str, value: Any) -> None:
        with self.cond:
            if self.stopped:
                raise Stopped
            self.items.append((kind, value))
            self.frames += kind == "rows"
            self.cond.notify_all()

    # the main thread ---------------------------------------------------------------------------------
    def get(self, kind: str) -> Any:
        """The next item, which must be of ``kind`` (``"rows"`` also returns None at the end of the rows)."""
        while True:
            with self.cond:
                if self.items:
                    got, value = self.items.popleft()
                    self.frames -= got == "rows"
                    self.cond.notify_all()
                    break
                if self.bronze is None or self.bronze_ids.done():
                    self.cond.wait()
                    continue
            self._read_bronze()  # instead of waiting
        if got == "error":
            raise value
        if kind == "rows" and got == "end":
            return None
        if got != kind:  # pragma: no cover - the two sides walk the jobs in the same order
            raise RuntimeError(f"quality feed out of step: expected {kind}, got {got}")
        return value

    def _read_bronze(self) -> None:
        """Read one more bronze file; once all are read, hand the ids to the background thread."""
        assert self.bronze is not None
        try:
            if not self.bronze.scan_next():
                self.bronze_ids.set_result((self.bronze.ids(), self.bronze.totals()))
        except Exception as exc:  # a broken page: the count fails, said plainly
            self.bronze_ids.set_exception(exc)

    def close(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        if not self.bronze_ids.done():
            self.bronze_ids.set_exception(Stopped())
        self.duck.con.interrupt()
        self.thread.join()
        self.duck.con.close()
