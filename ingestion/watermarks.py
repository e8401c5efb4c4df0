"""``since_id`` watermarks, one per (endpoint, query/account), kept in the lake under ``_state/watermarks``.

A watermark moves only forward, and only after every page of the run that reached it is committed to
bronze (see :mod:`ingestion.ingest`), so a crash never skips tweets.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from foundation.lake import Lake
from foundation.layout import WATERMARKS
from foundation.times import isoformat_z, utcnow
from ingestion.pages import stream_key


@dataclass(frozen=True)
class Watermark:
    """A stream's ``since_id``, and while a pull stopped early (a budget) is not caught up, its gap.

    Search and timelines serve newest first, so a pull stopped after some pages has landed the newest
    posts and left older ones (down to ``since_id``) unread. ``since_id`` then stays, and the gap is kept:
    ``pending_until_id`` (the oldest id landed: the next pull asks for posts older than it) and
    ``pending_newest_id`` (the newest landed: where ``since_id`` moves once the gap is closed).
    """

    since_id: str | None
    updated_at: str | None = None
    run_key: str | None = None
    pending_until_id: str | None = None
    pending_newest_id: str | None = None


class WatermarkStore:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    @staticmethod
    def _rel(endpoint: str, stream: str) -> str:
        return posixpath.join(WATERMARKS, f"endpoint={endpoint}", f"{stream_key(stream)}.json")

    def get(self, endpoint: str, stream: str) -> Watermark:
        doc = self.lake.read_json(self._rel(endpoint, stream))
        if not doc:
            return Watermark(None)
        return Watermark(
            doc.get("since_id"),
            doc.get("updated_at"),
            doc.get("run_key"),
            doc.get("pending_until_id"),
            doc.get("pending_newest_id"),
        )

    def advance(self, endpoint: str, stream: str, newest_id: str | None, run_key: str) -> Watermark:
        """A pull caught up: move the watermark to ``newest_id`` (or to a closed gap's newest) if that is
        newer; never backwards."""
        current = self.get(endpoint, stream)
        newest = _newest(newest_id, current.pending_newest_id)
        if not newest or (current.since_id and int(current.since_id) >= int(newest)):
            if current.pending_until_id:  # a gap closed with nothing newer: forget it
                return self._write(
                    endpoint, stream, Watermark(current.since_id, isoformat_z(utcnow()), run_key)
                )
            return current
        return self._write(endpoint, stream, Watermark(newest, isoformat_z(utcnow()), run_key))

    def hold(
        self, endpoint: str, stream: str, oldest_id: str | None, newest_id: str | None, run_key: str
    ) -> Watermark:
        """A pull stopped early: ``since_id`` stays, the gap left below ``oldest_id`` is recorded (the next
        pull reads it first), and the newest id landed is kept for when it closes."""
        current = self.get(endpoint, stream)
        until = oldest_id or current.pending_until_id
        if current.pending_until_id and until and int(current.pending_until_id) < int(until):
            until = current.pending_until_id
        mark = Watermark(
            current.since_id,
            isoformat_z(utcnow()),
            run_key,
            until,
            _newest(newest_id, current.pending_newest_id),
        )
        return self._write(endpoint, stream, mark)

    def _write(self, endpoint: str, stream: str, mark: Watermark) -> Watermark:
        doc = {
            "endpoint": endpoint,
            "stream": stream,
            "since_id": mark.since_id,
            "updated_at": mark.updated_at,
            "run_key": mark.run_key,
        }
        if mark.pending_until_id:
            doc |= {"pending_until_id": mark.pending_until_id, "pending_newest_id": mark.pending_newest_id}
        self.lake.write_json(self._rel(endpoint, stream), doc)
        return mark


def _newest(*ids: str | None) -> str | None:
    known = [int(i) for i in ids if i]
    return str(max(known)) if known else None
