"""The bronze files a build has yet to process, cut into batches that bound the build's memory.

A build reads every new bronze file at once (dbt model ``stg_bronze_files``). For a day of new data that is
what we want; for a large backlog (a first build of a large archive) the staging tables and
joins outgrow DuckDB's memory limit. :func:`batch_cuts` cuts the backlog into batches of about
``TWEETLAKE_BUILD_BATCH`` bytes of bronze, in ingest-date order so that each batch rewrites few silver
partitions; :func:`dbt_runtime.runner.build` runs one incremental silver build per batch (the bound in
``TWEETLAKE_BRONZE_UNTIL``, read by ``stg_bronze_files``) and builds the rest of the project with the
last one.

The files are listed and compared with ``_state/build/bronze_files`` here the same way ``stg_bronze_files``
does (path, size, modification time), but only to choose where to cut: dbt stays the judge of what is new, and
the last batch has no bound, so whatever dbt finds left is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbt_runtime.state import state_url
from foundation import lakefiles
from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB
from foundation.settings import Settings

_INGEST_DATE = re.compile(r"ingest_date=([0-9-]+)")


@dataclass(frozen=True)
class BronzeFile:
    bronze_file: str  # relative to the lake root: bronze/source=.../x.jsonl
    size: int
    mtime: str

    @property
    def sort_key(self) -> str:
        """``<ingest_date>/<bronze_file>``: the order batches follow (macro bronze_sort_key in dbt)."""
        m = _INGEST_DATE.search(self.bronze_file)
        return f"{m.group(1) if m else ''}/{self.bronze_file}"


def lake_relative(path: str) -> str:
    """``bronze/source=...`` from an absolute path or URL (macro lake_relative in dbt)."""
    at = path.find("/bronze/source=")
    return path[at + 1 :] if at >= 0 else path


def pending_files(settings: Settings, *, full_refresh: bool = False) -> list[BronzeFile]:
    """The bronze files the next build would process, in batch order."""
    lake = Lake.from_settings(settings)
    listed = _listed(settings, lake)
    done = set() if full_refresh else _processed(settings, lake)
    return sorted(
        (f for f in listed if (f.bronze_file, f.size, f.mtime) not in done), key=lambda f: f.sort_key
    )


def gone_files(settings: Settings) -> list[str]:
    """Bronze files an earlier build processed that are now gone or rewritten (another size or time).

    Silver merges new files into what it holds, so the rows of a removed file stay, and a rewritten file
    with fewer tweets (a window re-ingested after deletions, the sample run again with another size) leaves
    its old tweets behind. Either needs silver rebuilt from bronze (runner.build does it).
    """
    lake = Lake.from_settings(settings)
    done = _processed(settings, lake)
    if not done:
        return []
    listed = {(f.bronze_file, f.size, f.mtime) for f in _listed(settings, lake)}
    return sorted({name for name, size, mtime in done - listed})


def _listed(settings: Settings, lake: Lake) -> list[BronzeFile]:
    return [
        BronzeFile(lake_relative(f["path"]), f["size"], f["mtime"])
        for f in lakefiles.list_files(lake.url(BRONZE_GLOB), settings.s3_endpoint)
    ]


def _processed(settings: Settings, lake: Lake) -> set[tuple[str, int, str]]:
    files = lakefiles.list_files(f"{state_url(lake, 'bronze_files')}/**/*.parquet", settings.s3_endpoint)
    if not files:
        return set()
    import duckdb

    con = duckdb.connect()
    try:
        lake.register_with(con)
        paths = [f["path"] for f in files]
        rows = con.execute("select bronze_file, size, mtime from read_parquet(?)", [paths]).fetchall()
    finally:
        con.close()
    return {(name, int(size), str(mtime)) for name, size, mtime in rows}


def batch_cuts(files: list[BronzeFile], budget: int) -> list[str]:
    """The sort key of the last file of every batch but the last (empty: one batch does it all).

    A batch holds files until adding the next would pass ``budget`` bytes (at least one file).
    """
    if budget <= 0:
        return []
    cuts: list[str] = []
    size = 0
    for previous, current in zip([None, *files], files, strict=False):
        if previous is not None and size + current.size > budget:
            cuts.append(previous.sort_key)
            size = 0
        size += current.size
    return cuts
