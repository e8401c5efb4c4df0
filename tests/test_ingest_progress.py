"""Progress reporting: a redrawn bar on a terminal, periodic lines elsewhere, waits shown as they start."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

from foundation.lake import Lake
from ingestion.ingest import ingest
from ingestion.progress import Reporter
from ingestion.sources.sample import SampleSource


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_it_logs_every_n_pages_or_seconds() -> None:
    lines: list[str] = []
    clock = Clock()
    reporter = Reporter(emit=lines.append, tty=False, every_pages=3, every_seconds=60, clock=clock)
    reporter.start_pull("search_recent", "duckdb")
    for _ in range(7):
        clock.now += 1
        reporter.page(100)
    assert [line for line in lines if "..." in line] == [
        "  ... 3 pages, 300 tweets, 100 tweets/s, search_recent 'duckdb'",
        "  ... 6 pages, 600 tweets, 100 tweets/s, search_recent 'duckdb'",
    ]
    clock.now += 61  # quiet for a minute: a line even without enough pages
    reporter.page(0)
    assert lines[-1].startswith("  ... 8 pages, 700 tweets")
    reporter.waiting(42.0, "429 Too Many Requests from search_recent: waiting 42s")
    assert lines[-1] == "429 Too Many Requests from search_recent: waiting 42s"
    for _ in range(3):  # the 3rd page after the last line brings the next one
        reporter.page(10)
    assert "1 rate-limit wait(s)" in lines[-1]


def visible_frames(raw: str) -> list[str]:
    """The successive states of the redrawn line, as a person sees them (ANSI styling removed)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    return [frame.strip() for frame in plain.split("\r") if frame.strip()]


def test_on_a_terminal_it_redraws_one_bar_and_removes_it_at_the_end() -> None:
    out = io.StringIO()
    lines: list[str] = []
    clock = Clock()
    reporter = Reporter(emit=lines.append, stream=out, tty=True, total_tweets=400, clock=clock)
    reporter.start_pull("search_recent", "duckdb")
    clock.now += 1
    reporter.page(100)
    clock.now += 1
    reporter.page(100)
    frames = visible_frames(out.getvalue())
    assert frames[-1].endswith("50% 2 pages, 200 tweets, 100 tweets/s, search_recent 'duckdb'")
    drawn = len(frames)
    for _ in range(50):  # the clock stands still: no redraw however many pages come
        reporter.page(1)
    assert len(visible_frames(out.getvalue())) == drawn
    reporter.end_pull("  search_recent 'duckdb' 2026-11-20: 2 pages, 200 tweets")
    assert lines == ["  search_recent 'duckdb' 2026-11-20: 2 pages, 200 tweets"]  # through emit, not the bar
    reporter.close()
    # the bar is erased and the cursor shown again: nothing of it stays on the terminal
    assert out.getvalue().endswith("\x1b[2K") and "\x1b[?25h" in out.getvalue()


def test_ingest_reports_pages_and_the_total(tmp_path: Path) -> None:
    out = io.StringIO()
    lines: list[str] = []
    source = SampleSource(tweets=500, days=1, end_date=date(2026, 11, 20), queries=("q",), accounts=())
    reporter = Reporter(emit=lines.append, stream=out, tty=True, total_tweets=source.expected_tweets)
    summary = ingest(source, Lake(str(tmp_path / "lake")), reporter=reporter)
    assert summary.tweets == 500
    assert "100%" in out.getvalue() and "500 tweets" in out.getvalue()
    search, stream, counts = summary.runs  # a search, a filtered stream capture, the query's counts
    assert lines == [
        f"  search_recent 'q' 2026-11-20: {search.pages} pages, {search.tweets} tweets",
        f"  search_stream 'q' 2026-11-20: {stream.pages} pages, {stream.tweets} tweets",
        "  counts_recent 'q' 2026-11-20: 1 pages, 0 tweets",
    ]
    assert search.tweets + stream.tweets == 500 and stream.pages >= stream.tweets > 0
