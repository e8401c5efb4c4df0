"""Recorded API v2 responses: ``.json`` files (one response body each) and ``.jsonl`` files (one a line).

Every shape of :data:`ingestion.pages.SHAPES` lands: search, timeline and mentions pages, single-tweet
lookups, filtered/sampled stream messages (``matching_rules``), pages with only ``errors``, empty pages
(``meta.result_count: 0``), twarc2 archives and ``twarc2 flatten`` output (one tweet a line). Normalising
the shapes is the build's job: here each body lands as received.

- A ``.json`` file is one response body, pretty-printed or not. The ``.json`` files of one folder form one
  stream (``endpoint=replay``, ``stream=<folder name>``; a single file given as the path: its name), in
  file-name order.
- A ``.jsonl`` file holds one body per line: a twarc2 archive (pages with a ``__twarc`` key), a flatten
  file (tweets with ``__twarc``) or a raw stream capture (messages, blank keep-alive lines: skipped).
  ``__twarc`` (``url``, ``version``, ``retrieved_at``) is twarc's metadata, not the API's: it moves into the
  envelope and is cut out of the line's bytes, which otherwise land as recorded (no parse-and-reserialize).
  The endpoint and stream come from the recorded URL (:func:`endpoint_from_url`): ``search_recent`` /
  ``search_all`` keyed by the query, ``user_tweets`` / ``user_mentions`` keyed by the user id in the path
  (the URL holds no username), ``search_stream`` / ``sample_stream`` / ``tweets_lookup`` keyed by the file.
  Lines without a URL (a raw capture) are ``endpoint=replay``, ``stream=<file name>``. A file with several
  queries or users (``twarc2 searches``, ``twarc2 timelines``) gives one pull each.
- A line or file that is not a JSON object (malformed, or cut short by a partial upload) is reported with
  its file and line number and skipped; the rest is ingested. The problems are in ``problems``.

Run keys are content hashes (``replay-<sha256 prefix>``): importing the same file again replaces its
pages instead of adding them again. Memory stays bounded: lines are read one at a time (a file with
several streams is scanned once for line offsets, then read per stream).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from foundation.times import parse_utc, utcnow
from ingestion.pages import MalformedPage, Page, page_counts
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)

TWARC_KEY = b'"__twarc"'
WHITESPACE = b" \t\r\n"
READ_BUFFER = 1 << 20  # big reads: a 1 GB archive in a thousand system calls, not in 130,000
# (path pattern, endpoint, what names the stream: the query, the user id in the path, or the file)
ENDPOINT_BY_PATH = (
    (re.compile(r"/2/tweets/search/recent/?"), "search_recent", "query"),
    (re.compile(r"/2/tweets/search/all/?"), "search_all", "query"),
    (re.compile(r"/2/tweets/search/stream/?"), "search_stream", "file"),
    (re.compile(r"/2/tweets/sample(?:10)?/stream/?"), "sample_stream", "file"),
    (re.compile(r"/2/users/(\d+)/tweets/?"), "user_tweets", "user"),
    (re.compile(r"/2/users/(\d+)/mentions/?"), "user_mentions", "user"),
    (re.compile(r"/2/tweets(?:/\d+)?/?"), "tweets_lookup", "file"),
)
_DECODER = json.JSONDecoder()


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
    """(endpoint name, query or user id, or None for the file's name) from a request URL recorded by twarc."""
    parsed = urlparse(url)
    for pattern, name, key in ENDPOINT_BY_PATH:
        match = pattern.fullmatch(parsed.path)
        if match is None:
            continue
        if key == "user":
            return name, match.group(1)
        if key == "query":
            return name, parse_qs(parsed.query).get("query", [None])[0]
        return name, None
    return "replay", parse_qs(parsed.query).get("query", [None])[0]


def twarc_span(raw: bytes) -> tuple[int, int, dict[str, Any]] | None:
    """Where the trailing ``"__twarc": {...}`` member of a line is: ``(cut_from, cut_to, its value)``.

    twarc2 appends the key last, so removing ``raw[cut_from:cut_to]`` leaves the page as recorded. None if
    the line is not shaped that way (the caller then falls back to re-serializing the parsed page).
    """
    at = raw.rfind(TWARC_KEY)
    if at < 0:
        return None
    before = at - 1
    while before >= 0 and raw[before] in WHITESPACE:
        before -= 1
    if before < 0 or raw[before] not in b",{":
        return None
    tail = raw[at + len(TWARC_KEY) :].decode("utf-8", errors="strict")
    stripped = tail.lstrip()
    if not stripped.startswith(":"):
        return None
    value_at = len(tail) - len(stripped) + 1
    while value_at < len(tail) and tail[value_at] in " \t\r\n":
        value_at += 1
    try:
        value, end = _DECODER.raw_decode(tail, value_at)
    except json.JSONDecodeError:
        return None
    rest = tail[end:].strip()
    if rest != "}" or not isinstance(value, dict):
        return None
    cut_to = at + len(TWARC_KEY) + len(tail[:end].encode("utf-8"))
    if raw[before] == ord("{"):  # the only member: keep the braces
        return before + 1, cut_to, value
    return before, cut_to, value


@dataclass
class _Group:
    """The lines of one archive that belong to one (endpoint, stream)."""

    endpoint: str
    stream: str
    lines: list[tuple[int, int]] = field(default_factory=list)  # (byte offset, line number)


@dataclass
class ReplaySource:
    path: Path
    name: str = "replay"
    ingest_date: date = field(default_factory=lambda: utcnow().date())
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def files(self) -> list[Path]:
        path = self.path
        if not path.exists():
            raise FileNotFoundError(f"replay path {path} does not exist")
        if path.is_file():
            return [path]
        found = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
        if not found:
            raise FileNotFoundError(f"no .json or .jsonl files under {path}")
        return found

    def pulls(self, watermarks: WatermarkStore | None = None) -> Iterator[Pull]:
        files = self.files()
        folders: dict[Path, list[Path]] = {}
        for file in files:
            if file.suffix == ".json":
                folders.setdefault(file.parent, []).append(file)
        done: set[Path] = set()
        for file in files:
            if file.suffix == ".jsonl":
                yield from self._archive_pulls(file)
            elif file.parent not in done:
                done.add(file.parent)
                yield self._folder_pull(file.parent, folders[file.parent])

    # -- .json files ----------------------------------------------------------------------------------------
    def _folder_pull(self, folder: Path, files: list[Path]) -> Pull:
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
        stream = self.path.stem if self.path.is_file() else folder.name or "replay"
        return Pull(
            endpoint="replay",
            stream=stream,
            run_key=f"replay-{digest.hexdigest()[:16]}",
            ingest_date=self.ingest_date,
            pages=self._json_pages(files, stream),
        )

    def _json_pages(self, files: list[Path], stream: str) -> Iterator[Page]:
        for file in files:
            fetched = datetime.fromtimestamp(file.stat().st_mtime, UTC)
            try:
                page = Page(file.read_bytes(), "replay", stream, {"file": file.name}, fetched_at=fetched)
            except MalformedPage as exc:
                self._problem(str(file), None, str(exc))
                continue
            yield page

    # -- twarc2 archives ------------------------------------------------------------------------------------
    def _archive_pulls(self, file: Path) -> Iterator[Pull]:
        groups, digest = self._scan(file)
        key = f"replay-{digest[:16]}"
        for group in groups:
            yield Pull(
                endpoint=group.endpoint,
                stream=group.stream,
                run_key=key,
                ingest_date=self.ingest_date,
                pages=self._archive_pages(file, group, single=len(groups) == 1),
            )

    def _scan(self, file: Path) -> tuple[list[_Group], str]:
        """One pass: the content hash, and which lines belong to which (endpoint, stream)."""
        digest = hashlib.sha256()
        groups: dict[tuple[str, str], _Group] = {}
        by_url: dict[str, tuple[str, str]] = {}
        default = ("replay", file.stem)
        current = default
        offset = 0
        with file.open("rb", buffering=READ_BUFFER) as fh:
            for lineno, raw in enumerate(fh, start=1):
                digest.update(raw)
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    span = twarc_span(raw.rstrip(b"\r\n"))
                except UnicodeDecodeError:
                    span = None
                meta = span[2] if span else None
                if meta is None and TWARC_KEY in raw:  # not twarc's usual layout: parse the whole line
                    try:
                        doc = json.loads(raw)
                        meta = doc.get("__twarc") if isinstance(doc, dict) else None
                    except ValueError:
                        meta = None
                url = meta.get("url") if isinstance(meta, dict) else None
                if isinstance(url, str):
                    if url not in by_url:
                        endpoint, stream = endpoint_from_url(url)
                        by_url[url] = (endpoint, stream or file.stem)
                    current = by_url[url]
                # A line without metadata (or a malformed one, reported when read) stays with the last stream.
                group = groups.get(current)
                if group is None:
                    group = groups[current] = _Group(*current)
                group.lines.append((start, lineno))
        if not groups:
            groups[default] = _Group(*default)
        return list(groups.values()), digest.hexdigest()

    def _archive_pages(self, file: Path, group: _Group, single: bool) -> Iterator[Page]:
        fetched = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        with file.open("rb", buffering=READ_BUFFER) as fh:
            if single:
                lines: Iterator[tuple[int, bytes]] = (
                    (n, raw) for n, raw in enumerate(fh, start=1) if raw.strip()
                )
            else:
                lines = self._seek_lines(fh, group.lines)
            for lineno, raw in lines:
                page = self._line_page(file, lineno, raw, group, fetched)
                if page is not None:
                    yield page

    @staticmethod
    def _seek_lines(fh: Any, lines: list[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
        for offset, lineno in lines:
            fh.seek(offset)
            yield lineno, fh.readline()

    def _line_page(
        self, file: Path, lineno: int, raw: bytes, group: _Group, fetched: datetime
    ) -> Page | None:
        raw = raw.rstrip(b"\r\n")
        page = self._fast_line_page(file, lineno, raw, group, fetched)
        if page is not None:
            return page
        doc = self._parse_line(file, lineno, raw)
        if doc is None:
            return None
        request: dict[str, Any] = {"file": file.name, "line": lineno}
        when = fetched
        body = raw
        last_is_twarc = next(reversed(doc), None) == "__twarc"
        twarc = doc.pop("__twarc", None)
        if twarc is not None:
            request["twarc"] = twarc
            when = _parse_time(twarc.get("retrieved_at") if isinstance(twarc, dict) else None) or fetched
            span = twarc_span(raw) if last_is_twarc else None
            if span is not None and span[2] == twarc:
                body = raw[: span[0]] + raw[span[1] :]
            else:  # not twarc's usual layout: re-serialize the page without the key
                body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            tweets, errors, newest = page_counts(doc)
        except MalformedPage as exc:
            self._problem(str(file), lineno, f"{exc}; line skipped")
            return None
        return Page(
            body,
            group.endpoint,
            group.stream,
            request,
            fetched_at=when,
            tweet_count=tweets,
            error_count=errors,
            newest_id=newest,
        )

    @staticmethod
    def _fast_line_page(file: Path, lineno: int, raw: bytes, group: _Group, fetched: datetime) -> Page | None:
        """The common shape, validated and counted without building the page's objects; None otherwise."""
        fast = _fast_page(raw)
        if fast is None:
            return None
        tweets, errors, newest, twarc = fast
        request: dict[str, Any] = {"file": file.name, "line": lineno}
        body, when = raw, fetched
        if twarc is not None:
            span = twarc_span(raw)
            if span is None or span[2] != twarc:
                return None  # not twarc's usual layout: the slow path re-serializes the page without the key
            request["twarc"] = twarc
            body = raw[: span[0]] + raw[span[1] :]
            when = _parse_time(twarc.get("retrieved_at")) or fetched
        return Page(
            body,
            group.endpoint,
            group.stream,
            request,
            fetched_at=when,
            tweet_count=tweets,
            error_count=errors,
            newest_id=newest,
        )

    def _parse_line(self, file: Path, lineno: int, raw: bytes) -> dict[str, Any] | None:
        """The line as a JSON object (a body of any shape); None (a problem noted) otherwise."""
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            self._problem(str(file), lineno, f"malformed JSON ({msg}{where}); line skipped")
            return None
        if not isinstance(doc, dict):
            self._problem(
                str(file), lineno, f"a JSON {type(doc).__name__}, not a response page; line skipped"
            )
            return None
        return doc

    def _problem(self, path: str, line: int | None, reason: str) -> None:
        problem = Problem(path, line, reason)
        self.problems.append(problem)
        log.warning("skipped %s", problem)


# -- a fast path for the usual page --------------------------------------------------------------------------
# msgspec (installed with Airflow) validates a whole line and extracts just the counts, much faster than
# json.loads builds every object. Anything unusual (or no msgspec) takes the json path, which also words
# the problems.
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec comes with Airflow
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:

    class _Tweet(msgspec.Struct):
        id: str = ""

    class _Meta(msgspec.Struct):
        newest_id: str = ""

    class _Line(msgspec.Struct, rename={"twarc": "__twarc"}):
        data: list[_Tweet] | _Tweet | None = None
        errors: list[msgspec.Raw] | None = None
        meta: _Meta | None = None
        twarc: dict[str, Any] | None = None
        id: str | None = None  # a flattened tweet's own id and text
        text: str | None = None

    _LINE = msgspec.json.Decoder(_Line)


def _fast_page(raw: bytes) -> tuple[int, int, str, dict[str, Any] | None] | None:
    """``(tweets, errors, newest id, __twarc)`` of a well-formed page line; None to take the json path."""
    if msgspec is None:
        return None
    try:
        line = _LINE.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    data = line.data
    if data is None and line.meta is None and not line.errors:
        if line.id is None or line.text is None:
            return None  # an unusual shape: the json path decides
        data = _Tweet(line.id)  # flattened: the line is the tweet
    tweets = [data] if isinstance(data, _Tweet) else data or []
    ids = [int(t.id) for t in tweets if t.id.isdigit()]
    newest = line.meta.newest_id if line.meta is not None else ""
    if ids:
        newest = str(max(ids + ([int(newest)] if newest.isdigit() else [])))
    return len(tweets), len(line.errors or ()), newest, line.twarc


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None
