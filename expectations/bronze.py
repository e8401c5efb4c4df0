"""Bronze as the quality gate reads it: the tweet ids and newest ``envelope.fetched_at`` of every page file.

The ids feed ``expect_table_row_count_to_equal_bronze_tweets`` (no tweet lost or invented between bronze
and silver); the newest fetch is the run's default reference time. What was read of each file is kept in
``<lake>/quality/_state/bronze_ids.parquet`` under the file's fingerprint, so a run reads only new or
changed bronze files (:class:`Bronze`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from expectations.tables import fingerprint
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB, QUALITY_STATE
from foundation.times import parse_utc

log = logging.getLogger(__name__)
BRONZE_IDS = f"{QUALITY_STATE}/bronze_ids.parquet"

# msgspec (installed with Airflow) decodes only the fields named below and skips the rest of a page, much
# faster than DuckDB's read_json on the pages (whole objects per line); anything unusual takes json.loads.
try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec comes with Airflow
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:

    class _BronzeTweet(msgspec.Struct):
        id: str | int | None = None

    class _BronzeResponse(msgspec.Struct):
        data: list[_BronzeTweet] | None = None

    class _BronzeEnvelope(msgspec.Struct):
        fetched_at: str | None = None

    class _BronzePage(msgspec.Struct):
        envelope: _BronzeEnvelope | None = None
        response: _BronzeResponse | None = None

    _BRONZE_PAGE = msgspec.json.Decoder(_BronzePage)


def _page_facts(line: bytes | memoryview) -> tuple[list[str], str | None]:
    """The ``response.data[].id`` and ``envelope.fetched_at`` of one bronze page (a JSON line)."""
    if msgspec is not None:
        try:
            page = _BRONZE_PAGE.decode(line)
        except msgspec.ValidationError:
            pass  # an unusual shape: the json path below reads what it can
        else:
            data = page.response.data if page.response is not None else None
            fetched = page.envelope.fetched_at if page.envelope is not None else None
            return [str(t.id) for t in data or () if t.id is not None], fetched
    doc = json.loads(bytes(line))
    doc = doc if isinstance(doc, dict) else {}
    response, envelope = doc.get("response"), doc.get("envelope")
    data = response.get("data") if isinstance(response, dict) else None
    ids = [
        str(t["id"])
        for t in (data if isinstance(data, list) else [])
        if isinstance(t, dict) and isinstance(t.get("id"), str | int) and not isinstance(t.get("id"), bool)
    ]
    fetched = envelope.get("fetched_at") if isinstance(envelope, dict) else None
    return ids, fetched if isinstance(fetched, str) else None


def _lines(fh: Any, chunk: int = 8 << 20) -> Iterator[bytes | memoryview]:
    """The lines of a binary file, read in large chunks into one reused buffer and handed out as views of
    it, valid until the next line is asked for (iterating the file would split each page line, a few hundred
    kB, out of small reads into a new object)."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    head: list[bytes] = []  # the start of a line that continues in the next chunk
    while size := fh.readinto(view):
        pos = 0
        while (end := buf.find(b"\n", pos, size)) >= 0:
            if head:
                yield b"".join([*head, view[pos:end]])
                head = []
            else:
                yield view[pos:end]
            pos = end + 1
        if pos < size:
            head.append(bytes(view[pos:size]))
    if head:
        yield b"".join(head)


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
        self._read: dict[str, tuple[Any, datetime | None]] = {}  # files read in this run: ids, newest
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

    def _scan(self, rel: str) -> tuple[Any, datetime | None]:
        if rel not in self._read:
            import pyarrow as pa

            ids: set[str] = set()
            newest: datetime | None = None
            with self.lake.fs.open(self.lake._strip(self.lake.url(rel)), "rb") as fh:
                for n, line in enumerate(_lines(fh), 1):
                    try:
                        page_ids, fetched = _page_facts(line)
                        stamp = parse_utc(fetched) if fetched else None
                    except ValueError as exc:  # msgspec's and json's decode errors are ValueErrors
                        if not bytes(line).strip():
                            continue  # a blank line
                        raise ValueError(f"{rel}, line {n}: {exc}") from exc
                    ids.update(page_ids)
                    if stamp is not None and (newest is None or stamp > newest):
                        newest = stamp
            self._read[rel] = (pa.array(list(ids), pa.string()), newest)
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
    files = newest_partitions(list(bronze.fingerprints))
    stamps = [t for t in (bronze.fetched_max(f) for f in files) if t is not None]
    return max(stamps) if stamps else None
