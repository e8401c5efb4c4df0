"""Recorded API v2 response pages: ``.json`` files (one response body each) and twarc2 ``.jsonl`` archives.

A twarc2 archive holds one response page per line with a ``__twarc`` key (url, version, retrieved_at);
that key is twarc's metadata, not the API's, so it moves into the envelope and the page lands as the API
sent it. A malformed line is reported with its file and line number and skipped; the rest is ingested.
The run key is a hash of the file's content: importing the same archive again replaces its pages.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ingestion.pages import MalformedPage, Page
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)

ENDPOINT_BY_PATH = (
    ("/2/tweets/search/recent", "search_recent"),
    ("/2/tweets/search/all", "search_all"),
    ("/mentions", "user_mentions"),
    ("/tweets", "user_tweets"),
)


@dataclass
class Problem:
    """A line or file that could not be ingested, and where it is."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


def endpoint_from_url(url: str) -> tuple[str, str | None]:
    """(endpoint name, query or None) from a request URL recorded by twarc."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query).get("query", [None])[0]
    for suffix, name in ENDPOINT_BY_PATH:
        if suffix in parsed.path:
            return name, query
    return "replay", query


@dataclass
class ReplaySource:
    path: Path
    name: str = "replay"
    ingest_date: date = field(default_factory=lambda: datetime.now(UTC).date())
    problems: list[Problem] = field(default_factory=list)

    def files(self) -> list[Path]:
        path = Path(self.path)
        if not path.exists():
            raise FileNotFoundError(f"replay path {path} does not exist")
        if path.is_file():
            return [path]
        found = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
        if not found:
            raise FileNotFoundError(f"no .json or .jsonl files under {path}")
        return found

    def pulls(self, watermarks: WatermarkStore | None = None) -> Iterator[Pull]:
        for file in self.files():
            digest = hashlib.sha256(file.read_bytes()).hexdigest()[:16]
            endpoint, stream = self._identify(file)
            yield Pull(
                endpoint=endpoint,
                stream=stream,
                run_key=f"replay-{digest}",
                ingest_date=self.ingest_date,
                pages=self._pages(file, endpoint, stream),
            )

    def _identify(self, file: Path) -> tuple[str, str]:
        """Endpoint and stream for a file: from twarc metadata when there is some, else the file name."""
        if file.suffix == ".jsonl":
            with file.open("rb") as fh:
                for raw in fh:
                    try:
                        meta = json.loads(raw).get("__twarc") or {}
                    except (json.JSONDecodeError, AttributeError):
                        continue
                    if meta.get("url"):
                        endpoint, query = endpoint_from_url(meta["url"])
                        return endpoint, query or file.stem
                    break
        return "replay", file.stem

    def _pages(self, file: Path, endpoint: str, stream: str) -> Iterator[Page]:
        fetched = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        if file.suffix == ".json":
            raw = file.read_bytes()
            try:
                yield Page(raw, endpoint, stream, {"file": file.name}, fetched_at=fetched)
            except MalformedPage as exc:
                self._problem(str(file), None, str(exc))
            return
        with file.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    doc = json.loads(raw)
                except json.JSONDecodeError as exc:
                    self._problem(str(file), lineno, f"malformed JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(doc, dict):
                    self._problem(str(file), lineno, f"a JSON {type(doc).__name__}, not a response page")
                    continue
                request = {"file": file.name, "line": lineno}
                twarc = doc.pop("__twarc", None)
                if twarc is not None:
                    request["twarc"] = twarc
                    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
                    ts = twarc.get("retrieved_at")
                    when = _parse_time(ts) or fetched
                else:
                    body, when = raw, fetched
                yield Page(body, endpoint, stream, request, fetched_at=when)

    def _problem(self, path: str, line: int | None, reason: str) -> None:
        problem = Problem(path, line, reason)
        self.problems.append(problem)
        log.warning("skipped %s", problem)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
