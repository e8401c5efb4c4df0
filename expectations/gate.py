"""The gate between validation and publish: what the last validation of each staged layer saw and concluded.

A validation of a layer writes ``_staging/<layer>/_gate.json``: its run id, whether the run passed, and the
fingerprint (size and mtime/ETag) of every staged file of the layer it validated. Publish calls
:func:`check_publishable` for silver and gold first, which raises :class:`PublishRefused` (nothing published,
``silver/`` and ``gold/`` left as they are) when a staged layer failed its gate, was never validated, or
changed after validation.
"""

from __future__ import annotations

import posixpath
from typing import Any

from expectations.results import PublishRefused, ValidationReport
from expectations.tables import Table, file_fingerprint
from foundation.lake import Lake
from foundation.layout import GATE_RECORD
from foundation.times import isoformat_z, utcnow

UNCHANGED = "nothing was published: silver/ and gold/ are unchanged"


def record_gate(lake: Lake, staging: str, report: ValidationReport, tables: list[Table]) -> str:
    """Write the gate's record of a validation of the staged layer folder ``staging`` (lake-relative)."""
    return lake.write_json(
        posixpath.join(staging, GATE_RECORD),
        {
            "run_id": report.run_id,
            "validated_at": isoformat_z(utcnow()),
            "passed": report.success,
            "failed": sorted({f.suite for f in report.failures}),
            "files": {f: fp for t in tables for f, fp in sorted(t.fingerprints.items())},
            "results": report.results_path,
        },
    )


def check_publishable(
    lake: Lake, staging: str, files: list[str], current: dict[str, str] | None = None
) -> dict[str, Any]:
    """The gate's record for the staged ``files`` (lake-relative) of the layer staged in ``staging`` if they
    passed as they are now; else raise :class:`PublishRefused` saying why and what to do. ``current``: the
    files' fingerprints as just listed (else each file is looked up)."""
    where = lake.url(staging)
    layer = posixpath.basename(staging.rstrip("/"))
    record = lake.read_json(posixpath.join(staging, GATE_RECORD), default=None)
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        raise PublishRefused(
            f"publish refused: the staged {layer} in {where} was never validated; run `tweetlake validate` "
            f"(or `tweetlake refresh`), then publish ({UNCHANGED})"
        )
    run = record.get("run_id", "?")
    if record.get("passed") is not True:
        failed = ", ".join(record.get("failed") or []) or "the lake"
        raise PublishRefused(
            f"publish refused: the staged {layer} in {where} failed its quality gate in run {run} "
            f"(failed: {failed}); fix the data, rebuild (`tweetlake build`) and validate again "
            f"({UNCHANGED}). Results: {record.get('results', '')}"
        )
    seen: dict[str, Any] = record["files"]
    never = [f for f in files if f not in seen]
    if never:
        raise PublishRefused(
            f"publish refused: {', '.join(lake.url(f) for f in never)} never validated (the gate of run "
            f"{run} did not see it); run `tweetlake validate`, then publish ({UNCHANGED})"
        )
    now = current or {}
    changed = [f for f in files if (now[f] if f in now else file_fingerprint(lake, f)) != seen[f]]
    if changed:
        raise PublishRefused(
            f"publish refused: {', '.join(lake.url(f) for f in changed)} changed after the gate of run "
            f"{run} validated it; run `tweetlake validate` again, then publish ({UNCHANGED})"
        )
    return record
