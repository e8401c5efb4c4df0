"""Silver and gold tables in the lake: list their files, and swap new files in without readers noticing.

How a table is written (the dbt materialization ``lake_table`` in dbt_project/macros calls these through
SQL functions that :mod:`dbt_runtime.duckdb_plugin` registers):

1. DuckDB COPYs the model's rows to a *scratch* folder: inside the lake's own filesystem for a local lake
   (``<lake>/_staging/_scratch/``, so the final move is a rename), a local temp folder for an S3 lake.
2. :func:`install` moves each new file to its final name, atomically: ``os.replace`` locally, one PUT (or a
   completed multipart upload) on S3. Files have fixed names (``data_0.parquet`` in each partition), so a
   new partition file *replaces* the old one: a reader sees the old partition or the new one, never both and
   never a half-written file. Every key of a table lives in exactly one partition (a tweet's created date
   never changes), so uniqueness holds at every instant.
3. Only then are stale files removed: files of a replaced partition that the new version does not have,
   and, on an overwrite (full refresh), whole partitions the new version does not have. DuckDB's own
   partitioned overwrite is not used because it can leave old files behind on S3.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
import uuid
from typing import Any

from foundation.lake import Lake
from foundation.layout import GOLD, SILVER, STAGING_GOLD, STATE
from foundation.settings import is_remote

MODES = ("partitions", "overwrite", "table", "append", "file")


def _lake_of(url: str, s3_endpoint: str | None) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path it understands."""
    lake = Lake(url, s3_endpoint)
    return lake.fs, lake._strip(url.rstrip("/"))


def list_files(pattern: str, s3_endpoint: str | None = None) -> list[dict[str, Any]]:
    """Files matching a glob (``<lake>/bronze/**/*.jsonl``): path (as given: URL or absolute), size, mtime.

    Hidden files (``.name``) and temporary files never match.
    """
    remote = is_remote(pattern)
    fs, stripped = _lake_of(pattern, s3_endpoint)
    try:
        hits = fs.glob(stripped, detail=True)
    except FileNotFoundError:
        return []
    out = []
    prefix = pattern.split("://", 1)[0] + "://" if remote else ""
    for path, info in sorted(hits.items()):
        if info.get("type") == "directory" or posixpath.basename(path).startswith("."):
            continue
        mtime = info.get("LastModified") or info.get("mtime") or info.get("created") or ""
        out.append({"path": prefix + path, "size": int(info.get("size") or 0), "mtime": str(mtime)})
    return out


_DAMAGED = re.compile(r"(?:No magic bytes found at end of file|too small to be a Parquet file)[^']*'([^']+)'")


def damage_hint(message: str) -> str:
    """What to do about a damaged table file that a DuckDB error ``message`` names ("" if it names none)."""
    m = _DAMAGED.search(message) or re.search(r"'([^']+\.parquet)'[^\n]*(?:too small|magic bytes)", message)
    if not m:
        return ""
    path = m.group(1)
    fix = (
        "the next `tweetlake publish` (after `tweetlake build` and `validate`) rewrites it, or `tweetlake "
        "rollback --to <version>` restores an earlier one"
        if f"/{GOLD}/" in path and f"/{STAGING_GOLD}/" not in path
        else "the next `tweetlake build` finds it and rebuilds silver and gold from bronze"
    )
    return f"{path} is damaged (not a whole Parquet file): {fix}."


def damaged_parquet(files: list[dict[str, Any]], s3_endpoint: str | None = None) -> list[str]:
    """The files of ``files`` (as :func:`list_files` gives them) that are not whole Parquet files.

    A whole file ends with its footer's length and the magic ``PAR1``, and the footer fits in the file; a
    truncated or overwritten file fails that (DuckDB then says "No magic bytes found" mid-build). Only the
    last 8 bytes of each file are read (one ranged GET on S3).
    """
    whole = [f for f in files if int(f["size"]) >= 12]
    damaged = {f["path"] for f in files if int(f["size"]) < 12}
    if whole:
        fs = _lake_of(whole[0]["path"], s3_endpoint)[0]
        paths = [_lake_of(f["path"], s3_endpoint)[1] for f in whole]
        sizes = [int(f["size"]) for f in whole]
        # one call: s3fs fetches the ranges concurrently (hundreds of partition files, one round trip)
        tails = fs.cat_ranges(paths, [n - 8 for n in sizes], sizes)
        for f, size, tail in zip(whole, sizes, tails, strict=True):
            footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 else -1
            if tail[4:] != b"PAR1" or not 0 < footer <= size - 12:
                damaged.add(f["path"])
    return sorted(damaged)


def scratch_dir(location: str, name: str) -> str:
    """A fresh, empty folder for DuckDB to COPY a model's rows into, on the same filesystem when possible."""
    token = f"{name}-{uuid.uuid4().hex[:12]}"
    if not is_remote(location):
        lake_root = _local_lake_root(location)
        path = os.path.join(lake_root, "_staging", "_scratch", token)
    else:
        path = os.path.join(tempfile.gettempdir(), "tweetlake-scratch", token)
    os.makedirs(path, exist_ok=True)
    return path


def clear_scratch(lake_root: str) -> None:
    """Remove what builds left in the lake's scratch folder: a build killed in the middle of a model leaves
    its folder there, and nothing else would ever remove it. Only while holding the lake's lease (a running
    build's folders are there too). An S3 lake's scratch is in the machine's temp folder, cleared by it."""
    if not is_remote(lake_root):
        shutil.rmtree(os.path.join(lake_root, "_staging", "_scratch"), ignore_errors=True)


def _local_lake_root(location: str) -> str:
    """``/lake`` for ``/lake/silver/tweets``, ``/lake/_state/build/bronze_files`` or
    ``/lake/_staging/gold/x.parquet`` (a sibling otherwise)."""
    parts = os.path.abspath(location).split(os.sep)
    for marker in (SILVER, STATE, STAGING_GOLD.split("/")[0], GOLD):
        if marker in parts:
            return os.sep.join(parts[: len(parts) - 1 - parts[::-1].index(marker)]) or os.sep
    return os.path.dirname(os.path.abspath(location))


def move(source: str, target: str, s3_endpoint: str | None = None) -> None:
    """Move one file within the lake: a rename locally; on S3 a copy, then the source deleted. A target
    that already exists is kept (and the source dropped): the move was done once already."""
    fs, src = _lake_of(source, s3_endpoint)
    dst = _lake_of(target, s3_endpoint)[1]
    if fs.exists(dst):
        fs.rm(src)
    elif is_remote(source):
        fs.copy(src, dst)
        fs.rm(src)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)


def copy(source: str, target: str, s3_endpoint: str | None = None) -> None:
    """Copy one file within the lake, the target appearing whole (a rename of a copy beside it locally,
    one server-side copy on S3). A target that already exists is kept: the copy was done once already."""
    fs, src = _lake_of(source, s3_endpoint)
    dst = _lake_of(target, s3_endpoint)[1]
    if fs.exists(dst):
        return
    if is_remote(source):
        fs.copy(src, dst)
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def remove_files(paths: list[str], s3_endpoint: str | None = None) -> None:
    """Remove files given as :func:`list_files` gives them (URLs or absolute paths)."""
    if paths:
        fs = _lake_of(paths[0], s3_endpoint)[0]
        fs.rm([_lake_of(p, s3_endpoint)[1] for p in paths])


def remove_tree(location: str, s3_endpoint: str | None = None) -> None:
    """Remove a folder and everything below it (nothing if it does not exist)."""
    fs, path = _lake_of(location, s3_endpoint)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _put(fs: Any, remote: bool, local: str, target: str) -> None:
    """Move one local file to ``target`` atomically."""
    if remote:
        fs.put_file(local, target)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.replace(local, target)
    except OSError:  # another device: copy beside the target, then rename
        tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{uuid.uuid4().hex[:8]}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, target)


def _files_under(fs: Any, path: str) -> list[str]:
    if not fs.exists(path):
        return []
    return [p for p in fs.find(path) if not posixpath.basename(p).startswith(".")]


def install(scratch: str, location: str, mode: str, batch: str = "", s3_endpoint: str | None = None) -> str:
    """Swap the files DuckDB wrote under ``scratch`` into ``location``; returns a one-line summary.

    ``mode``:
      - ``partitions``: replace the hive partitions present in scratch, leave the others alone;
      - ``overwrite``: replace every partition, and remove the partitions scratch does not have;
      - ``table``: ``location`` becomes exactly scratch's files (unpartitioned table);
      - ``append``: add scratch's files under new names (``part-<batch>-N.parquet``);
      - ``file``: ``location`` is a file path; scratch holds one file that replaces it.
    """
    if mode not in MODES:
        raise ValueError(f"unknown install mode {mode!r}; expected one of {MODES}")
    remote = is_remote(location)
    fs, target_root = _lake_of(location, s3_endpoint)
    new: list[str] = []
    for folder, _dirs, names in os.walk(scratch):
        new += [os.path.join(folder, n) for n in names if n.endswith(".parquet")]
    new.sort()
    if mode == "file":
        if len(new) != 1:
            raise RuntimeError(f"expected one file under {scratch} for {location}, found {len(new)}")
        _put(fs, remote, new[0], target_root)
        _cleanup(scratch)
        return f"{location}: 1 file"
    if mode == "append":
        batch = batch or uuid.uuid4().hex[:12]
        for i, local in enumerate(new):
            _put(fs, remote, local, posixpath.join(target_root, f"part-{batch}-{i}.parquet"))
        _cleanup(scratch)
        return f"{location}: appended {len(new)} file(s)"
    written = {_put_relative(fs, remote, local, scratch, target_root) for local in new}
    # stale files: only after every new file is in place
    partitions = {posixpath.dirname(p) for p in written}
    stale = [
        path
        for path in _files_under(fs, target_root)
        if path not in written and (mode in ("overwrite", "table") or posixpath.dirname(path) in partitions)
    ]
    if stale:
        fs.rm(stale)
    if not remote:
        _remove_empty_dirs(target_root)
    _cleanup(scratch)
    return f"{location}: {len(written)} file(s) in {len(partitions)} partition(s), {len(stale)} stale removed"


def _put_relative(fs: Any, remote: bool, local: str, scratch: str, target_root: str) -> str:
    """Move a scratch file to the same relative path under ``target_root``; the path it now has."""
    target = posixpath.join(target_root, os.path.relpath(local, scratch).replace(os.sep, "/"))
    _put(fs, remote, local, target)
    return target


def _remove_empty_dirs(root: str) -> None:
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda x: -len(x[0])):
        if folder != root and not os.listdir(folder):
            os.rmdir(folder)


def _cleanup(scratch: str) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
