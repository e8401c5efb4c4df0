"""Compliance redaction of the quality reports: what a removed post or user left in them.

A run record's failures carry a few offending rows (:mod:`expectations.trace`), with a post's id, author
and sometimes its text: a row naming a removed id is dropped from the record (the failure, its counts and its
expectation stay). The Data Docs pages show offending values of the column under test: each removed id in
them is replaced by ``[removed]``. The index is rewritten from the redacted records afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from foundation.lake import Lake
from foundation.layout import QUALITY_DOCS, QUALITY_RUNS

_DIGITS = re.compile(r"\d{1,20}")
REMOVED = "[removed]"


@dataclass
class QualityRedaction:
    records: int = 0
    rows_dropped: int = 0
    docs: int = 0


def redact_quality(lake: Lake, removed: set[str]) -> QualityRedaction:
    done = QualityRedaction()
    if not removed:
        return done
    for rel in lake.glob(f"{QUALITY_RUNS}/*.json"):
        record = json.loads(lake.read_bytes(rel))
        dropped = sum(_drop_rows(f, removed) for f in record.get("failures") or [] if isinstance(f, dict))
        if dropped:
            lake.write_json(rel, record)
            done.records += 1
            done.rows_dropped += dropped
    for rel in lake.walk_files(QUALITY_DOCS):
        if not rel.endswith((".html", ".json")):
            continue
        text = lake.read_bytes(rel).decode("utf-8", errors="surrogateescape")
        if removed.isdisjoint(_DIGITS.findall(text)):
            continue
        scrubbed = _DIGITS.sub(lambda m: REMOVED if m.group(0) in removed else m.group(0), text)
        lake.write_bytes(rel, scrubbed.encode("utf-8", errors="surrogateescape"))
        done.docs += 1
    return done


def _drop_rows(failure: dict[str, Any], removed: set[str]) -> int:
    rows = failure.get("rows")
    if not isinstance(rows, list):
        return 0
    kept = [r for r in rows if not (isinstance(r, dict) and any(str(v) in removed for v in _values(r)))]
    failure["rows"] = kept
    return len(rows) - len(kept)


def _values(row: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for v in row.values():
        values.extend(_values(v) if isinstance(v, dict) else [v])
    return values
