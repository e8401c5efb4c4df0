"""Read bronze back independently of dbt (plain json), to check the layers above against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from foundation.lake import Lake


def bronze_records(lake: Lake) -> Iterator[dict[str, Any]]:
    for rel in lake.glob("bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl"):
        for line in lake.read_bytes(rel).splitlines():
            if line.strip():
                yield json.loads(line)


def bronze_tweet_ids(lake: Lake) -> set[str]:
    return {t["id"] for rec in bronze_records(lake) for t in (rec["response"].get("data") or [])}
