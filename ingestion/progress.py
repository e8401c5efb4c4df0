"""Progress of a long ingest: pages, tweets and rate-limit waits while it runs, and a line per stream run.

On a terminal it is a rich progress bar on stderr, redrawn in place: a bar when the total is known (the
sample source knows it), a counter otherwise, gone when the ingest ends. Anywhere else (Airflow logs, CI, a
pipe) it is a plain line every ``every_pages`` pages or ``every_seconds`` seconds, whichever comes first.
Messages (the line per stream run, rate-limit waits) go through ``emit``; on a terminal they print above the
bar (rich's live display takes what is written to stderr meanwhile), so the two never mix.

Use from a driver::

    reporter = Reporter(emit=print_to_stderr, total_tweets=getattr(source, "expected_tweets", None))
    reporter.start_pull(pull.endpoint, pull.stream)
    pull.on_wait = reporter.waiting          # the source calls it before sleeping for a rate limit
    for page in pull.pages: ...; reporter.page(page.tweet_count or 0)
    reporter.end_pull("... 12 pages, 1,200 tweets")
    reporter.close()
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

log = logging.getLogger(__name__)

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1


class _Bar:
    """The terminal view: one rich progress bar, redrawn when asked (by the reporter's clock, so tests and
    long ingests alike redraw at most every ``REDRAW_SECONDS``), removed when closed."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        console = Console(file=stream, force_terminal=True, stderr=stream is sys.stderr)
        columns = [BarColumn(bar_width=BAR_WIDTH), TaskProgressColumn()] if total else []
        # stderr is taken over while the bar shows: lines written there meanwhile print above it
        redirect = stream is sys.stderr
        self.progress = Progress(
            *columns,
            TextColumn("{task.fields[status]}"),
            console=console,
            auto_refresh=False,
            transient=True,
            redirect_stderr=redirect,
            redirect_stdout=False,
        )
        self.task: TaskID = self.progress.add_task("ingest", total=total, status="")
        self.started = False

    def draw(self, done: int, status: str) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        self.progress.update(self.task, completed=done, status=status)
        self.progress.refresh()

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False


class Reporter:
    """Counts pages, tweets and waits; shows them as a redrawn bar (``tty``) or periodic log lines."""

    def __init__(
        self,
        *,
        emit: Callable[[str], None] | None = None,
        stream: TextIO | None = None,
        tty: bool | None = None,
        total_tweets: int | None = None,
        every_pages: int = 1000,
        every_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.emit_fn = emit or log.info
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.tty = tty
        self.total = total_tweets or None
        self.every_pages = every_pages
        self.every_seconds = every_seconds
        self.clock = clock
        self.started = clock()
        self.pages = 0
        self.tweets = 0
        self.waits = 0
        self.current = ""
        self._last_report_pages = 0
        self._last_report_time = self.started
        self._last_draw = 0.0
        self._bar = _Bar(self.stream, self.total) if tty else None

    # -- events -------------------------------------------------------------------------------------------
    def start_pull(self, endpoint: str, stream: str) -> None:
        self.current = f"{endpoint} {stream!r}"
        self._draw(force=True)

    def page(self, tweets: int) -> None:
        self.pages += 1
        self.tweets += tweets
        if self.tty:
            self._draw()
            return
        now = self.clock()
        if (
            self.pages - self._last_report_pages >= self.every_pages
            or now - self._last_report_time >= self.every_seconds
        ):
            self._last_report_pages, self._last_report_time = self.pages, now
            self.emit_fn(f"  ... {self.status()}")

    def waiting(self, seconds: float, message: str) -> None:
        """A rate-limit wait is about to start: show it now, not after it ends."""
        self.waits += 1
        self.message(message, warning=True)

    def end_pull(self, line: str) -> None:
        self.message(line)

    def message(self, text: str, *, warning: bool = False) -> None:
        """A line of its own; on a terminal it prints above the bar."""
        logger = getattr(self.emit_fn, "__self__", None)
        if warning and isinstance(logger, logging.Logger):  # emit is some_logger.info: warn on it
            logger.warning("%s", text)
        else:
            self.emit_fn(text)
        self._draw(force=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    # -- rendering ----------------------------------------------------------------------------------------
    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.tweets / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        parts = [f"{self.pages:,} pages", f"{self.tweets:,} tweets", f"{self.rate():,.0f} tweets/s"]
        if self.waits:
            parts.append(f"{self.waits} rate-limit wait(s)")
        if self.current:
            parts.append(self.current)
        return ", ".join(parts)

    def _draw(self, force: bool = False) -> None:
        if self._bar is None:
            return
        now = self.clock()
        if not force and now - self._last_draw < REDRAW_SECONDS:
            return
        self._last_draw = now
        self._bar.draw(self.tweets, self.status())
