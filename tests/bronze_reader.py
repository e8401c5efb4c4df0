"""Read bronze back with plain json, independently of the code under test (ingestion, dbt): the one reader
the tests check the layers against. Each record keeps its response exactly as stored, to compare bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from foundation.lake import Lake
from foundation.layout import BRONZE


@dataclass
class BronzeRecord:
    rel: str  # the object it is in
    envelope: dict[str, Any]
    response: dict[str, Any]
    body: bytes  # the response exactly as stored

    @property
    def counts(self) -> bool:
        """A page of a counts endpoint (README "The lake": endpoint=counts_*): buckets, not tweets."""
        return self.envelope.get("endpoint", "").startswith("counts_")

    @property
    def tweets(self) -> list[dict[str, Any]]:
        return [] if self.counts else response_tweets(self.response)

    @property
    def tweet_ids(self) -> list[str]:
        return [t["id"] for t in self.tweets]

    @property
    def expansions(self) -> list[dict[str, Any]]:
        """The tweets it holds as expansions: includes.tweets (a flattened line's inlined references with
        their fields). Silver observes them too (silver.tweets.seen_in 'includes')."""
        return [] if self.counts else response_expansions(self.response)


def response_tweets(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The tweets a stored response holds, by the shapes of README "The lake": ``data`` a list (a page),
    an object (a single lookup, a stream message), or the response itself (a ``twarc2 flatten`` line)."""
    data = response.get("data")
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    if "data" not in response and "id" in response and "text" in response:
        return [response]
    return []


def response_expansions(response: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(response.get("data"), (list, dict)) or "id" not in response:
        return list((response.get("includes") or {}).get("tweets") or [])
    return [t for t in response.get("referenced_tweets") or [] if "text" in t]


def bronze(lake: Lake, endpoint: str = "*") -> list[BronzeRecord]:
    """Every bronze record (of ``endpoint``), checking each line is ``{"envelope":...,"response":...}``."""
    out = []
    # The pattern is spelled out (not foundation.layout.BRONZE_GLOB): the layout is what this checks.
    for rel in lake.glob(f"{BRONZE}/source=*/endpoint={endpoint}/stream=*/ingest_date=*/*.jsonl"):
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


def bronze_tweet_ids(lake: Lake, expansions: bool = True) -> set[str]:
    """The ids of every tweet in bronze (re-observations counted once): what silver.tweets must hold, the
    pages' own tweets and (unless ``expansions`` is false: the tweets the streams collected) those only
    in their includes."""
    return {
        t["id"] for record in bronze(lake) for t in record.tweets + (record.expansions if expansions else [])
    }


def all_lake_bytes(lake: Lake) -> bytes:
    """Every file in the lake, concatenated (to look for things that must never be there)."""
    return b"".join(lake.read_bytes(rel) for rel in lake.walk_files(""))
