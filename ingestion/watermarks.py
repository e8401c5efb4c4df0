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
    since_id: str | None
    updated_at: str | None = None
    run_key: str | None = None


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
        return Watermark(doc.get("since_id"), doc.get("updated_at"), doc.get("run_key"))

    def advance(self, endpoint: str, stream: str, newest_id: str | None, run_key: str) -> Watermark:
        """Move the watermark to ``newest_id`` if that is newer; never backwards."""
        current = self.get(endpoint, stream)
        if not newest_id or (current.since_id and int(current.since_id) >= int(newest_id)):
            return current
        mark = Watermark(str(newest_id), isoformat_z(utcnow()), run_key)
        self.lake.write_json(
            self._rel(endpoint, stream),
            {
                "endpoint": endpoint,
                "stream": stream,
                "since_id": mark.since_id,
                "updated_at": mark.updated_at,
                "run_key": mark.run_key,
            },
        )
        return mark
