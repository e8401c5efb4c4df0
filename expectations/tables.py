"""The lake's tables as validation sees them: where a suite's table lives, its Parquet files, their stamps."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from expectations.suites import SuiteFile
from foundation.lake import Lake
from foundation.layout import GOLD, SILVER, STAGING_SILVER
from foundation.sql import literal


@dataclass
class Table:
    suite: SuiteFile
    location: str  # URL of the folder (staged silver) or file (gold)
    files: list[str]  # relative to the lake root
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def view(self) -> str:
        return self.suite.name.replace(".", "__")


def fingerprint(info: dict[str, Any]) -> str:
    """Size and modification stamp (ETag on S3) of a file: what says it changed."""
    stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created")
    return f"{info.get('size')}:{stamp}"


def file_fingerprint(lake: Lake, rel: str) -> str:
    return fingerprint(lake.fs.info(lake._strip(lake.url(rel))))


def table_location(lake: Lake, suite: SuiteFile, gold_root: str | None) -> str:
    """Where a suite's table is validated: silver as built, ``_staging/silver/<table>/`` (a folder of
    Parquet: the published ``silver/<table>/`` is a Delta table of exactly what passed here); gold at
    ``<gold_root>/<table>.parquet`` (the staged gold), or ``gold/<table>.parquet`` as published."""
    if suite.layer == SILVER:
        return lake.url(STAGING_SILVER, suite.table)
    root = gold_root or lake.url(GOLD)
    return f"{root.rstrip('/')}/{suite.table}.parquet"


def lake_relative(lake: Lake, url: str) -> str:
    root = lake.root.rstrip("/") + "/"
    if not url.startswith(root):
        raise ValueError(f"{url} is not inside the lake {lake.root}")
    return url[len(root) :]


def find_table(lake: Lake, suite: SuiteFile, gold_root: str | None) -> Table:
    location = table_location(lake, suite, gold_root)
    rel = lake_relative(lake, location)
    if suite.layer == SILVER:
        files = [
            f
            for f in lake.walk_files(rel)
            if f.endswith(".parquet") and not posixpath.basename(f).startswith((".", "_"))
        ]
    else:
        files = [rel] if lake.exists(rel) else []
    return Table(suite, location, files, {f: file_fingerprint(lake, f) for f in files})


def read_parquet(lake: Lake, files: list[str]) -> str:
    """DuckDB's ``read_parquet`` of ``files`` (lake-relative), as the build writes them (hive partitions)."""
    listed = "[" + ", ".join(literal(lake.url(f)) for f in files) + "]"
    return f"read_parquet({listed}, hive_partitioning = true, union_by_name = true)"
