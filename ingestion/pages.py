"""One API response page as it travels from a source to bronze, and the envelope stored with it."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from foundation.times import isoformat_z, utcnow

# Twitter snowflake ids: epoch 2010-11-04T01:42:54.657Z, timestamp in the bits above 22.
TWITTER_EPOCH_MS = 1288834974657


def snowflake_time(tweet_id: str | int) -> datetime:
    """When a snowflake id was minted."""
    ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


_SLUG = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def stream_key(stream: str) -> str:
    """A partition-safe name for a query or account: a readable slug plus a hash of the exact text."""
    slug = _SLUG.sub("-", stream.lower()).strip("-")[:40] or "stream"
    digest = hashlib.sha1(stream.encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def compact_json_bytes(raw: bytes) -> bytes:
    """The same JSON text on one line.

    A literal line break can only stand between tokens in valid JSON (inside strings it must be escaped),
    so removing CR/LF changes no value: the page stays exactly as received, one page per bronze line.
    """
    if b"\n" in raw or b"\r" in raw:
        raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    return raw.strip()


@dataclass
class Page:
    """A response body exactly as received, with what is known about how it was fetched.

    ``body`` holds the raw bytes. ``tweet_count``, ``error_count`` and ``newest_id`` may be given by a
    source that already knows them (the sample generator); otherwise they are read from the body.
    """

    body: bytes
    endpoint: str
    stream: str
    request: dict[str, Any] = field(default_factory=dict)
    http_status: int = 200
    rate_limit: dict[str, int] | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    tweet_count: int | None = None
    error_count: int | None = None
    newest_id: str | None = None

    def __post_init__(self) -> None:
        self.body = compact_json_bytes(self.body)
        if self.tweet_count is None or self.error_count is None or self.newest_id is None:
            self._inspect()

    def _inspect(self) -> None:
        try:
            parsed = json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise MalformedPage(f"response body is not JSON: {exc}") from exc
        tweets, errors, newest = page_counts(parsed)
        if self.tweet_count is None:
            self.tweet_count = tweets
        if self.error_count is None:
            self.error_count = errors
        if self.newest_id is None:
            self.newest_id = newest


SHAPES = ("page", "single", "errors", "empty", "flattened")
"""The shapes a response body lands in (README "The lake"): ``page`` (``data`` a list: search, timelines,
mentions, lookup of many ids), ``single`` (``data`` an object: lookup of one id, a stream message),
``errors`` (no ``data``, only ``errors``), ``empty`` (no ``data``, no errors: ``meta.result_count: 0``) and
``flattened`` (no ``data``; the object is itself a tweet, ``id`` and ``text`` at top level, as ``twarc2
flatten`` writes it)."""


def page_shape(parsed: Any) -> str:
    """Which of :data:`SHAPES` a parsed response body is; :class:`MalformedPage` if it is none of them."""
    if not isinstance(parsed, dict):
        raise MalformedPage(f"response body is a JSON {type(parsed).__name__}, expected an object")
    data = parsed.get("data")
    if isinstance(data, list):
        return "page"
    if isinstance(data, dict):
        return "single"
    if data is not None:
        raise MalformedPage("response 'data' is neither a list nor an object")
    if parsed.get("errors"):
        return "errors"
    if "id" in parsed and "text" in parsed and parsed.get("meta") is None:
        return "flattened"
    return "empty"


def page_counts(parsed: Any) -> tuple[int, int, str]:
    """``(tweets, partial errors, newest id or "")`` of a parsed response body of any shape; for sources
    that parse it anyway (the API, replay) so :class:`Page` need not parse it again."""
    shape = page_shape(parsed)
    if shape == "flattened":
        tweets = [parsed]
    elif shape == "single":
        tweets = [parsed["data"]]
    else:
        tweets = parsed.get("data") or []
    errors = parsed.get("errors") or []
    meta = parsed.get("meta") or {}
    newest = meta.get("newest_id") if isinstance(meta, dict) else None
    ids = [int(t["id"]) for t in tweets if isinstance(t, dict) and str(t.get("id", "")).isdigit()]
    if ids:
        newest = str(max(ids + ([int(newest)] if newest and str(newest).isdigit() else [])))
    return len(tweets), len(errors) if isinstance(errors, list) else 1, str(newest or "")


class MalformedPage(ValueError):
    """A page that is not a JSON object; the caller adds where it came from."""


def envelope(page: Page, *, source: str, run_id: str, run_key: str, page_number: int) -> dict[str, Any]:
    """What bronze stores beside each page: how, when and by which run it was fetched. No secrets."""
    return {
        "source": source,
        "endpoint": page.endpoint,
        "stream": page.stream,
        "stream_key": stream_key(page.stream),
        "request": page.request,
        "fetched_at": isoformat_z(page.fetched_at),
        "http_status": page.http_status,
        "rate_limit": page.rate_limit,
        "page_number": page_number,
        "run_id": run_id,
        "run_key": run_key,
    }


def bronze_line(env: dict[str, Any], body: bytes) -> bytes:
    """One bronze record: ``{"envelope": {...}, "response": <the body, byte for byte>}``."""
    return b"".join(bronze_parts(env, body))


def bronze_parts(env: dict[str, Any], body: bytes) -> tuple[bytes, bytes, bytes]:
    """:func:`bronze_line` in three pieces, the body itself in the middle (written without a copy)."""
    head = _ENCODE_ENVELOPE(env).encode()
    return b'{"envelope":' + head + b',"response":', body, b"}\n"


_ENCODE_ENVELOPE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
