"""Rendering pages in worker processes, in plan order, a bounded number of pages ahead of the consumer.

Workers are plain subprocesses speaking a small pipe protocol, not a ``multiprocessing`` or
``concurrent.futures`` pool: those either fork (copying locks other threads hold: Airflow's, s3fs's
event-loop thread) or spawn and re-import the parent's ``__main__`` (which breaks scripts without a main
guard); and their result queues pickle every page body once more, where these pipes pass it raw.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from ingestion.sources.sample.render import Rendered

CHUNK_PAGES = 8
PIPE_BUFFER = 1 << 20
QUEUE_PAGES = 256  # rendered pages waiting for the consumer (~30 MB): rides out a bronze object write
# the folder that holds the ``ingestion`` package, for the workers' import path
PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
WORKER = "from ingestion.sources.sample.workers import worker_main; worker_main()"


class PageSource(Protocol):
    """What workers render from (a :class:`~ingestion.sources.sample.SampleSource`, pickled)."""

    def page_count(self, day_index: int, stream_index: int) -> int: ...

    def render_page(self, day_index: int, stream_index: int, page_no: int) -> Rendered: ...


def worker_main() -> None:
    """A worker (``python -c``, not ``-m``: this module is then imported once, not also run as ``__main__``):
    read the source, then ``(day, stream, start, stop)`` tasks; answer each with its pages: the
    length of a pickled list of ``(body size, tweets, errors, newest id)``, that list, then the bodies, raw
    (written straight from the rendered bytes and read straight into the consumer's, with no copy between)."""
    stdin = sys.stdin.buffer
    out = sys.stdout.fileno()
    source: PageSource = pickle.load(stdin)
    while True:
        try:
            task = pickle.load(stdin)
        except EOFError:
            return
        if task is None:
            return
        di, si, start, stop = task
        pages = [source.render_page(di, si, p) for p in range(start, stop)]
        head = pickle.dumps([(len(body), *rest) for body, *rest in pages], protocol=5)
        _write_all(out, [len(head).to_bytes(4, "little"), head, *(body for body, *_ in pages)])


def _write_all(fd: int, parts: list[bytes]) -> None:
    views = [memoryview(p) for p in parts if p]
    while views:  # a pipe takes what fits: go on from where a write stopped
        done = os.writev(fd, views)
        while views and done >= len(views[0]):
            done -= len(views.pop(0))
        if done:
            views[0] = views[0][done:]


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (usually a single read, straight into the result); EOFError if it ends."""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = os.read(fd, size - got)
        if not more:
            raise EOFError
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Feeder:
    """Worker processes that render the pages of the pulls, in plan order, ahead of the consumer.

    Chunk ``i`` goes to worker ``i % workers``; each worker answers its chunks in order, so reading the
    workers round-robin gives the chunks in order. A thread of this process sends and receives, into a
    bounded queue (``QUEUE_PAGES``): the workers keep rendering while the consumer writes a bronze object
    or commits a run, and go on into the next pull without waiting for the end of this one. When the
    consumer asks for a later pull than the one being rendered (it skips streams), rendering jumps there:
    at most a queue's worth is wasted.
    """

    def __init__(self, source: PageSource, plan: list[tuple[int, int]], workers: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self.source = source
        self.plan = plan
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                bufsize=PIPE_BUFFER,
            )
            for _ in range(workers)
        ]
        self.pipes: list[tuple[IO[bytes], IO[bytes]]] = []  # (stdin, stdout) of each worker
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None  # both are PIPE
            self.pipes.append((proc.stdin, proc.stdout))
            with contextlib.suppress(ImportError, AttributeError, OSError):
                import fcntl  # a page per read, not a 64 kB slice of one (Linux; elsewhere a no-op)

                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BUFFER)
            pickle.dump(source, proc.stdin, protocol=5)
        self.sent = 0
        self.received = 0
        self.busy = False
        self.wanted = 0  # the pull the consumer reads (or will): rendering never lags behind it
        self.closing = False
        self.ready: queue.Queue[Any] = queue.Queue(maxsize=max(1, QUEUE_PAGES // CHUNK_PAGES))  # chunks
        self.thread = threading.Thread(target=self._serve, name="sample-feeder", daemon=True)
        self.thread.start()

    def pages(self, pi: int) -> Iterator[Rendered]:
        """The rendered pages of pull ``pi`` of the plan, in order (one pull at a time: see ``busy``)."""
        self.busy = True
        self.wanted = max(self.wanted, pi)
        try:
            while True:
                try:
                    item = self.ready.get(timeout=0.5)
                except queue.Empty:
                    if not self.thread.is_alive():
                        raise RuntimeError("the sample feeder stopped (pulls read out of order?)") from None
                    continue
                if isinstance(item, _Failed):
                    raise item.error
                tpi, chunk = item
                if tpi < pi:  # what was rendered ahead for a pull nobody read
                    continue
                if tpi > pi or chunk is None:  # the end of this pull
                    if tpi > pi:  # (can only happen if pulls were read out of order)
                        raise RuntimeError("sample pulls read out of order")
                    return
                yield from chunk
        finally:
            self.wanted = max(self.wanted, pi + 1)  # a pull left half read: move on
            self.busy = False

    def _serve(self) -> None:
        """Keep every worker two chunks ahead, across pull boundaries (no pause between pulls); pass the
        chunks on in order, each pull closed by ``(pull, None)``; drop what was rendered for skipped pulls."""
        try:
            inflight: collections.deque[tuple[int, bool]] = collections.deque()  # (pull, its last chunk?)
            tasks = self._tasks()
            while True:
                while len(inflight) < 2 * len(self.procs) and not self.closing:
                    task = next(tasks, None)
                    if task is None:
                        break
                    pi, di, si, start, stop = task
                    self._send((di, si, start, stop))
                    inflight.append((pi, stop == self.source.page_count(di, si)))
                if not inflight:
                    break
                pages = self._receive()
                pi, last = inflight.popleft()
                if self.wanted > pi or self.closing:  # nobody reads that pull any more
                    continue
                if not self._put((pi, pages)) or (last and not self._put((pi, None))):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failed(exc))

    def _tasks(self) -> Iterator[tuple[int, int, int, int, int]]:
        """``(pull, day, stream, first page, end page)`` of each chunk in plan order, from the pull the
        consumer wants on: a pull it moved past is cut short."""
        pi = 0
        while not self.closing:
            pi = max(pi, self.wanted)
            if pi >= len(self.plan):
                return
            di, si = self.plan[pi]
            total = self.source.page_count(di, si)
            for start in range(0, total, CHUNK_PAGES):
                if self.wanted > pi or self.closing:
                    break
                yield pi, di, si, start, min(total, start + CHUNK_PAGES)
            pi += 1

    def _put(self, item: Any) -> bool:
        """Queue an item, unless the feeder is closing (then nobody reads: give up)."""
        while not self.closing:
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _send(self, task: tuple[int, int, int, int]) -> None:
        stdin = self.pipes[self.sent % len(self.pipes)][0]
        pickle.dump(task, stdin, protocol=5)
        stdin.flush()
        self.sent += 1

    def _receive(self) -> list[Rendered]:
        proc = self.procs[self.received % len(self.procs)]
        fd = self.pipes[self.received % len(self.pipes)][1].fileno()
        try:
            meta = pickle.loads(_read_exactly(fd, int.from_bytes(_read_exactly(fd, 4), "little")))
            pages = [(_read_exactly(fd, size), *rest) for size, *rest in meta]
        except EOFError:
            raise RuntimeError(f"a sample worker exited (code {proc.poll()}); see its error above") from None
        self.received += 1
        return pages

    def close(self) -> None:
        self.closing = True
        for stdin, _ in self.pipes:  # the workers finish their chunk and exit
            with contextlib.suppress(OSError):
                stdin.close()
        for proc in self.procs:  # idle workers exit at once; busy ones (a run cut short) are stopped
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.thread.join(timeout=5)
        for _, stdout in self.pipes:
            with contextlib.suppress(OSError):
                stdout.close()
