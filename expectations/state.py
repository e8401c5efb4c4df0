"""What earlier passing runs validated, so a run reads only the rows it has not seen.

``<lake>/quality/_state/validated.json`` holds, per suite, the fingerprint (size and mtime/ETag) of every
file its row expectations read in a passing run, a digest of those row expectations and the run's
``$not_after``. A file is read again when it is new or changed, when the row expectations were edited, or
when a run's ``$not_after`` is earlier (a later one only widens the bounds). Only a passing run updates it:
a failed run's files are read again next time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from expectations.plan import row_expectations
from expectations.suites import SuiteFile
from expectations.tables import Table
from foundation.lake import Lake
from foundation.layout import QUALITY_STATE
from foundation.times import parse_utc

STATE = f"{QUALITY_STATE}/validated.json"
NO_BOUND = "9999-12-31T00:00:00+00:00"  # an entry without $not_after: every file is read again


def rows_key(suite: SuiteFile) -> str:
    """A digest of a suite's row expectations as written (placeholders unresolved): a file validated under
    other row expectations is validated again."""
    rows = [{"type": e["type"], "kwargs": e.get("kwargs", {})} for e in row_expectations(suite)]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]


def unvalidated(table: Table, seen: Any, not_after: str) -> list[str]:
    """The table's files that a passing run has not validated as they are now: new or changed files, or
    every file if the row expectations changed or the reference time moved back (``$not_after`` earlier).
    Row expectations with another placeholder than ``$not_after`` always read every file."""
    placeholders = {
        v
        for e in row_expectations(table.suite)
        for v in e.get("kwargs", {}).values()
        if isinstance(v, str) and v.startswith("$")
    }
    if (
        placeholders - {"$not_after"}
        or not isinstance(seen, dict)
        or seen.get("rows") != rows_key(table.suite)
        or not isinstance(seen.get("files"), dict)
        or parse_utc(str(seen.get("not_after") or NO_BOUND)) > parse_utc(not_after)
    ):
        return list(table.files)
    done = seen["files"]
    return [f for f in table.files if done.get(f) != table.fingerprints.get(f)]


def entry(table: Table, not_after: str) -> dict[str, Any]:
    """The state of a table whose suite passed: its files as they are, under these row expectations."""
    return {"files": table.fingerprints, "rows": rows_key(table.suite), "not_after": not_after}


def load(lake: Lake) -> dict[str, Any]:
    state = lake.read_json(STATE, default={}) or {}
    return state if isinstance(state, dict) else {}


def save(lake: Lake, state: dict[str, Any], passed: dict[str, dict[str, Any]]) -> None:
    """Keep the suites that passed in this run (``passed``: their :func:`entry`), the others as they were."""
    lake.write_json(STATE, {**state, **passed})
