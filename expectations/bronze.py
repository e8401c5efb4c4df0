"""Bronze as the quality gate reads it: the tweet ids and newest ``envelope.fetched_at`` of every page file.

The ids feed ``expect_table_row_count_to_equal_bronze_tweets`` (no tweet lost or invented between bronze
and silver); the newest fetch is the run's default reference time. What was read of each file is kept in
``<lake>/quality/_state/bronze_ids.parquet`` under the file's fingerprint, so a run reads only new or
changed bronze files (:class:`Bronze`).
"""

from __future__ import annotations

import itertools
import logging
import os
import posixpath
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from expectations.tables import fingerprint
from foundation import bronze_shapes as shapes
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB, QUALITY_STATE

log = logging.getLogger(__name__)
BRONZE_IDS = f"{QUALITY_STATE}/bronze_ids.parquet"

# A file's counts, by what its lines are (foundation.bronze_shapes): readable pages, lines set aside, and the
# tweets those seem to hold.
COUNTS = ("pages", "rejected", "rejected_tweets")


def scan_file(fh: Any, counts_file: bool = False) -> tuple[set[str], datetime | None, dict[str, int]]:
    """The tweet ids (their own and their includes.tweets) and newest fetch of a bronze file's readable
    pages, and its counts (:data:`COUNTS`).

    The build reads exactly these pages and sets aside the other lines (the same classifier), so the ids
    are what silver must hold. A counts endpoint's file (``counts_file``) holds no tweets; its lines are
    judged by the counts rule, as the build judges them."""
    classify = shapes.classify_counts_line if counts_file else shapes.classify_line
    ids: set[str] = set()
    newest: datetime | None = None
    counts = dict.fromkeys(COUNTS, 0)
    for _, _, line in shapes.lines(fh):
        facts = classify(line)
        if facts.shape == shapes.BLANK:
            continue
        if facts.shape == shapes.REJECTED:
            counts["rejected"] += 1
            counts["rejected_tweets"] += facts.tweets_guess
            continue
        counts["pages"] += 1
        ids.update(facts.ids)
        ids.update(facts.included_ids)
        stamp = facts.fetched_at
        if stamp is not None:
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            if newest is None or stamp > newest:
                newest = stamp
    return ids, newest, counts


class Bronze:
    """The tweet ids and newest ``envelope.fetched_at`` of each bronze file, read once per file version.

    Bronze files are written once (a run adds files). What was read of a file is kept in
    ``<lake>/quality/_state/bronze_ids.parquet`` (one row per file: path, size and mtime/ETag, newest
    fetch, distinct ids) and used while the file's fingerprint is unchanged; a new or changed file is read.
    The cache holds facts about files, not verdicts, so it is kept whether the gate passes or not."""

    def __init__(self, lake: Lake, use_cache: bool = True) -> None:
        self.lake = lake
        self.use_cache = use_cache  # False: read every file (a full validation trusts no earlier run)
        base = lake._strip(lake.root)
        hits = lake.fs.glob(f"{base}/{BRONZE_GLOB}", detail=True)
        self.fingerprints: dict[str, str] = {}
        for path, info in sorted(hits.items()):
            rel = path[len(base) :].lstrip("/")
            if not posixpath.basename(rel).startswith("."):
                self.fingerprints[rel] = fingerprint(info)
        self._cache: Any = None  # pyarrow table of the cache file, rows of unchanged files only
        self._rows: dict[str, int] | None = None  # the cache's row of each file
        # files read in this run: ids, newest fetch, counts
        self._read: dict[str, tuple[Any, datetime | None, dict[str, int]]] = {}
        self._unread: Iterator[str] | None = None  # files for scan_next

    def _cached(self) -> Any:
        """The cache's rows for files still in bronze with the same fingerprint (columns as written)."""
        if self._cache is None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._cache = pa.table(
                {
                    "file": pa.array([], pa.string()),
                    "fingerprint": pa.array([], pa.string()),
                    "fetched_max": pa.array([], pa.timestamp("us", tz="UTC")),
                    "ids": pa.array([], pa.large_list(pa.string())),
                    **{c: pa.array([], pa.int64()) for c in COUNTS},
                }
            )
            if self.use_cache:
                try:
                    with self.lake.fs.open(self.lake._strip(self.lake.url(BRONZE_IDS)), "rb") as fh:
                        table = pq.ParquetFile(fh).read()  # not read_table: it imports pyarrow.dataset
                    files, prints = table["file"].to_pylist(), table["fingerprint"].to_pylist()
                    keep = [self.fingerprints.get(f) == fp for f, fp in zip(files, prints, strict=True)]
                    self._cache = table.filter(pa.array(keep, pa.bool_())).select(self._cache.column_names)
                except FileNotFoundError:
                    pass
                except Exception as exc:  # a broken cache is not trusted: bronze is read again
                    log.warning("ignoring the bronze id cache %s: %s", BRONZE_IDS, exc)
        return self._cache

    def _cached_row(self, rel: str) -> int | None:
        if self._rows is None:
            self._rows = {f: i for i, f in enumerate(self._cached()["file"].to_pylist())}
        return None if rel in self._read else self._rows.get(rel)

    def _scan(self, rel: str) -> tuple[Any, datetime | None, dict[str, int]]:
        if rel not in self._read:
            import pyarrow as pa

            with self.lake.fs.open(self.lake._strip(self.lake.url(rel)), "rb") as fh:
                ids, newest, counts = scan_file(fh, shapes.is_counts_file("/" + rel))
            self._read[rel] = (pa.array(list(ids), pa.string()), newest, counts)
        return self._read[rel]

    def scan_next(self) -> bool:
        """Read one bronze file neither cached nor read yet; False when there is none."""
        if self._unread is None:
            self._unread = iter([f for f in self.fingerprints if self._cached_row(f) is None])
        for rel in self._unread:
            if rel not in self._read:
                self._scan(rel)
                return True
        return False

    def fetched_max(self, rel: str) -> datetime | None:
        """The newest ``envelope.fetched_at`` of a bronze file (None if it has none)."""
        row = self._cached_row(rel)
        if row is not None:
            return self._cached()["fetched_max"][row].as_py()
        return self._scan(rel)[1]

    def totals(self) -> dict[str, dict[str, int]]:
        """The counts (:data:`COUNTS`) of every bronze file, summed by source (``source=`` in its path)."""
        cached = self._cached()
        per_file: list[tuple[str, dict[str, int]]] = [
            (f, {c: int(v) for c, v in zip(COUNTS, row, strict=True)})
            for f, *row in zip(*(cached[c].to_pylist() for c in ("file", *COUNTS)), strict=True)
        ]
        per_file += [(f, self._scan(f)[2]) for f in self.fingerprints if self._cached_row(f) is None]
        totals: dict[str, dict[str, int]] = {}
        for rel, counts in per_file:
            source = rel.split("source=", 1)[-1].split("/", 1)[0]
            into = totals.setdefault(source, dict.fromkeys(COUNTS, 0))
            for c in COUNTS:
                into[c] += counts[c]
        return totals

    def ids(self) -> Any:
        """A pyarrow table (column ``id``) of the tweet ids of every bronze file (distinct per file)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        cached = self._cached()
        arrays = [self._scan(f)[0] for f in self.fingerprints if self._cached_row(f) is None]
        ids = pa.chunked_array([*pc.list_flatten(cached["ids"]).chunks, *arrays], pa.string())
        return pa.table({"id": ids})

    def save(self) -> None:
        """Keep what was read of new or changed files for the next run (nothing to do if none was)."""
        if not self._read:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        cached = self._cached()
        files = [f for f in self._read if f in self.fingerprints]
        fresh = pa.table(
            {
                "file": pa.array(files, pa.string()),
                "fingerprint": pa.array([self.fingerprints[f] for f in files], pa.string()),
                "fetched_max": pa.array([self._read[f][1] for f in files], pa.timestamp("us", tz="UTC")),
                "ids": pa.LargeListArray.from_arrays(
                    pa.array([0, *itertools.accumulate(len(self._read[f][0]) for f in files)], pa.int64()),
                    pa.concat_arrays([self._read[f][0] for f in files])
                    if files
                    else pa.array([], pa.string()),
                ),
                **{c: pa.array([self._read[f][2][c] for f in files], pa.int64()) for c in COUNTS},
            }
        )
        table = pa.concat_tables([cached, fresh.cast(cached.schema)])  # read files were not in the cache
        with tempfile.TemporaryDirectory(prefix="tweetlake-bronze-ids-") as tmp:
            local = os.path.join(tmp, "bronze_ids.parquet")
            pq.write_table(table, local, compression="zstd")
            self.lake.put_file(local, BRONZE_IDS)


def newest_partitions(files: list[str]) -> list[str]:
    """The bronze files of each stream's newest ``ingest_date=`` partition (where the newest fetch is)."""
    newest: dict[str, str] = {}
    for f in files:
        stream, _, rest = f.partition("/ingest_date=")
        day = rest.split("/", 1)[0]
        if day > newest.get(stream, ""):
            newest[stream] = day
    return [
        f
        for f in files
        if f.partition("/ingest_date=")[2].split("/", 1)[0] == newest[f.partition("/ingest_date=")[0]]
    ]


def newest_fetch(bronze: Bronze) -> datetime | None:
    """The newest ``envelope.fetched_at`` in bronze: the last time the lake heard from the API."""
    stamps = [t for _, t in _newest_stamps(bronze)]
    return max(stamps) if stamps else None


def fetched_ahead(bronze: Bronze, limit: datetime) -> tuple[str, datetime] | None:
    """The bronze file with the newest ``fetched_at`` after ``limit`` (this machine's clock plus the skew
    allowed), and that time; None if there is none. Pages of the sample source are left out: it stamps
    pages with the generated day's times by design."""
    ahead = [(f, t) for f, t in _newest_stamps(bronze) if t > limit and not f.startswith(_SAMPLE)]
    return max(ahead, key=lambda ft: ft[1]) if ahead else None


_SAMPLE = "bronze/source=sample/"


def _newest_stamps(bronze: Bronze) -> list[tuple[str, datetime]]:
    files = newest_partitions(list(bronze.fingerprints))
    return [(f, t) for f, t in ((f, bronze.fetched_max(f)) for f in files) if t is not None]
