"""How the build reads one new bronze file: which of DuckDB's reads takes it, and which lines it sets aside.

Every new bronze file is classified line by line once (:mod:`foundation.bronze_shapes`) when dbt lists it
(model ``stg_bronze_files`` calls ``tweetlake_classify``). DuckDB's read_json takes one schema per read, and
``data`` is a list in a page but an object in a single-tweet message, so the build has one read per kind
of line (macro ``bronze_pages``): ``page`` (pages, errors-only and empty messages), ``single`` and
``flattened``. A file whose lines all suit one read is read in place: every file the API source writes,
so the usual build costs only the classification. Any other file (shapes mixed, or lines rejected) is
split: its good lines, byte for byte, go to one scratch file per read in the build's work folder, so
DuckDB never sees a line it would fail on or half-read, and bronze itself stays as received.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from dbt_runtime.processes import cores, spawn_pool
from foundation import bronze_shapes as shapes
from foundation.lake import Lake
from foundation.workdir import work_dir

TWEET_READS = ("page", "single", "flattened")  # the reads of tweets (macro bronze_pages)
READS = (*TWEET_READS, "counts")  # and of counts pages (stg_bronze_counts)
# the read each shape takes; errors-only and empty messages have no data, which every read accepts
_READ_OF = {
    shapes.PAGE: "page",
    shapes.ERRORS: "page",
    shapes.EMPTY: "page",
    shapes.SINGLE: "single",
    shapes.FLATTENED: "flattened",
    shapes.COUNTS: "counts",  # a counts endpoint's page: its own read (stg_bronze_counts), never tweets
}
REJECTION_TYPE = (
    "STRUCT(line BIGINT, byte_offset BIGINT, shape_guess VARCHAR, reason VARCHAR, head VARCHAR, "
    "tweets_guess BIGINT)"
)
CLASSIFIED_TYPE = (
    "STRUCT(page VARCHAR, single VARCHAR, flattened VARCHAR, counts VARCHAR, lines BIGINT, "
    f"rejected {REJECTION_TYPE}[])"
)


# below this many bytes of new bronze, starting worker processes (~0.5 s) costs more than it saves
PARALLEL_BYTES = 64 << 20


def scratch_dir(lake: str) -> Path:
    """Where split files are written for one build (emptied by every build, see :func:`clear_scratch`)."""
    return work_dir(lake) / "bronze_read"


def clear_scratch(lake: str) -> None:
    shutil.rmtree(scratch_dir(lake), ignore_errors=True)


def classify_file(lake: Lake, path: str, size: int, mtime: str, folder: Path | None = None) -> dict[str, Any]:
    """The read of each part of a bronze file (a path, or None), its line count and its rejections.

    Split parts go to ``folder``, by default this build's scratch folder (the benchmark floor, which reads
    bronze the way the build does, keeps its own)."""
    reads: dict[str, list[tuple[int, int]]] = {r: [] for r in READS}  # (offset, length) of each line
    rejected: list[dict[str, Any]] = []
    count = 0
    try:
        fh = lake.fs.open(lake._strip(path), "rb")
    except FileNotFoundError:
        if not lake.remote and os.path.lexists(path):  # a dangling link: broken, not gone: fail, named
            raise
        # gone since the build listed bronze (an ingest replaced its run's objects, a redaction, a lifecycle
        # rule): nothing of it is read and it is not recorded as processed (lines null: stg_bronze_files
        # leaves it out); what replaced it is listed by the next build.
        sys.stderr.write(
            "bronze file gone while this build read bronze (the next build reads what replaced it), "
            f"left out: {path}\n"
        )
        return dict.fromkeys(READS) | {"lines": None, "rejected": []}
    # a counts endpoint's file holds buckets, not tweets: its lines are judged by the counts rule
    classify = shapes.classify_counts_line if shapes.is_counts_file(path) else shapes.classify_line
    with fh:
        for number, offset, line in shapes.lines(fh):
            count = number
            facts = classify(line)
            if facts.shape == shapes.BLANK:
                continue
            if facts.shape == shapes.REJECTED:
                rejected.append(
                    {
                        "line": number,
                        "byte_offset": offset,
                        "shape_guess": facts.shape_guess,
                        "reason": facts.reason[:500],
                        "head": shapes.head(line),
                        "tweets_guess": facts.tweets_guess,
                    }
                )
                continue
            reads[_READ_OF[facts.shape]].append((offset, len(line)))
    used = [r for r in READS if reads[r]]
    out: dict[str, Any] = dict.fromkeys(READS)
    out.update(lines=count, rejected=rejected)
    if not rejected and len(used) <= 1:
        if used:
            out[used[0]] = path
        return out
    stem = hashlib.sha1(f"{path}|{size}|{mtime}".encode()).hexdigest()[:16]
    folder = folder or scratch_dir(lake.root)
    folder.mkdir(parents=True, exist_ok=True)
    with lake.fs.open(lake._strip(path), "rb") as fh:
        for read in used:
            part = folder / f"{stem}.{read}.jsonl"
            with part.open("wb") as out_fh:
                for offset, length in reads[read]:
                    fh.seek(offset)
                    out_fh.write(fh.read(length) + b"\n")
            out[read] = str(part)
    return out


def _classify(args: tuple[str, str | None, str, int, str, str | None]) -> dict[str, Any]:
    root, endpoint, path, size, mtime, folder = args
    return classify_file(Lake(root, endpoint), path, size, mtime, Path(folder) if folder else None)


def classify_files(
    root: str, endpoint: str | None, files: list[dict[str, Any]], folder: Path | None = None
) -> list[dict[str, Any]]:
    """:func:`classify_file` of each ``{path, size, mtime}``, in order, on every core.

    msgspec holds the GIL, so one process classifies at one core's speed (~10 s of a 1M-tweet build): a
    large batch is split over worker processes, largest files first so the last one does not run alone."""
    where = str(folder) if folder else None
    tasks = [(root, endpoint, f["path"], f["size"], f["mtime"], where) for f in files]
    processes = min(cores(), len(tasks))
    if processes <= 1 or sum(f["size"] or 0 for f in files) < PARALLEL_BYTES:
        return [_classify(t) for t in tasks]
    order = sorted(range(len(tasks)), key=lambda i: -(files[i]["size"] or 0))
    with spawn_pool(processes) as pool:
        results = pool.map(_classify, [tasks[i] for i in order], chunksize=1)
    out: list[dict[str, Any]] = [{}] * len(tasks)
    for i, result in zip(order, results, strict=True):
        out[i] = result
    return out
