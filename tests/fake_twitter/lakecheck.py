"""Read bronze back, independently of the code under test: records, raw response bytes, watermarks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from foundation.lake import Lake


@dataclass
class BronzeRecord:
    rel: str  # the object it is in
    envelope: dict[str, Any]
    response: dict[str, Any]
    body: bytes  # the response exactly as stored

    @property
    def tweet_ids(self) -> list[str]:
        return [t["id"] for t in self.response.get("data") or []]


def bronze(lake: Lake, endpoint: str = "*") -> list[BronzeRecord]:
    out = []
    for rel in lake.glob(f"bronze/source=*/endpoint={endpoint}/stream=*/ingest_date=*/*.jsonl"):
        for line in lake.read_bytes(rel).splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            head = (
                b'{"envelope":'
                + json.dumps(doc["envelope"], separators=(",", ":"), ensure_ascii=False).encode()
            )
            assert line.startswith(head + b',"response":') and line.endswith(b"}"), line[:200]
            body = line[len(head) + len(b',"response":') : -1]
            out.append(BronzeRecord(rel, doc["envelope"], doc["response"], body))
    return out


def all_lake_bytes(lake: Lake) -> bytes:
    """Every file in the lake, concatenated (to look for things that must never be there)."""
    return b"".join(lake.read_bytes(rel) for rel in lake.walk_files(""))
