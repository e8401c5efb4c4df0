"""Where a build keeps its state between builds, and moving an older lake's state there.

Two dbt models are pipeline state, not tables for users: ``bronze_files`` (the bronze files processed, so
the next build skips them) and ``tweet_sentiment`` (the score of every text ever scored, so no text is
scored twice). They live in ``<lake>/_state/build/<table>/`` (:data:`foundation.layout.BUILD_STATE`);
lakes built before kept them in ``silver/<table>/``. :func:`migrate` moves them there, file by file, keeping
their relative paths: nothing is reprocessed or rescored. It runs before every build (the runner calls it
before listing the backlog, dbt's on-run-start through the plugin, so a ``dbt build`` by hand migrates too)
and costs two listings once there is nothing left to move. An interrupted move is finished by the next one.

Silver moved too: lakes built before silver was staged kept its tables as plain Parquet in
``silver/<table>/``, which is now the published Delta table. :func:`stage_silver` copies such a table's files
to the build's working copy, ``_staging/silver/<table>/`` (same relative paths), so the first build carries on
incrementally from them; readers keep the plain files until the first publish makes the folder a Delta table
and removes them (:mod:`pipeline.publish`).
"""

from __future__ import annotations

import posixpath

from foundation import lakefiles
from foundation.lake import Lake
from foundation.layout import BUILD_STATE, SILVER, SILVER_PUBLISHED, STAGING_SILVER

TABLES = ("bronze_files", "tweet_sentiment")


def state_url(lake: Lake, table: str) -> str:
    """The folder of a build-state table (``<lake>/_state/build/bronze_files``)."""
    return lake.url(BUILD_STATE, table)


def migrate(lake: Lake) -> str:
    """Move the build state an older layout kept in ``silver/`` to ``_state/build/``; a one-line summary.

    A file already at its new place (a move interrupted between copy and delete on S3) wins: the old copy
    is dropped. Every build merge is idempotent, so even a lost state file would only cost reprocessing.
    """
    moved: list[str] = []
    for table in TABLES:
        old = lake.url(SILVER, table)
        files = lakefiles.list_files(f"{old}/**/*.parquet", lake.s3_endpoint)
        for f in files:
            target = state_url(lake, table) + f["path"][len(old) :]
            lakefiles.move(f["path"], target, lake.s3_endpoint)
        if files:
            lakefiles.remove_tree(old, lake.s3_endpoint)
            moved.append(f"{table}: {len(files)} file(s)")
    return f"moved to {BUILD_STATE}/ " + ", ".join(moved) if moved else "nothing to move"


def legacy_silver(lake: Lake) -> dict[str, list[str]]:
    """The silver tables still plain Parquet (``silver/<table>/`` without ``_delta_log``): their files,
    lake-relative. None once silver was published as Delta: the first publish removes each table's plain
    files before it writes ``silver/_published.json``, so a lake with it is not listed again (on S3 the
    listing is one request per table, at every build and every ``tweetlake sql``)."""
    found: dict[str, list[str]] = {}
    if lake.exists(SILVER_PUBLISHED):
        return found
    for rel in lake.glob(f"{SILVER}/*"):
        table = posixpath.basename(rel)
        if table in TABLES or lake.exists(f"{rel}/_delta_log"):
            continue
        files = lake.glob(f"{rel}/*.parquet") + lake.glob(f"{rel}/*/*.parquet")
        if files:
            found[table] = files
    return found


def stage_silver(lake: Lake) -> str:
    """Copy each plain-Parquet silver table of an older lake to ``_staging/silver/`` unless staging has it
    already; a one-line summary. A marker file stays while a table is copied, so a copy interrupted is
    finished by the next build (files already there are kept)."""
    copied: list[str] = []
    for table, files in sorted(legacy_silver(lake).items()):
        marker = f"{STAGING_SILVER}/{table}/.copying"
        staged = lake.glob(f"{STAGING_SILVER}/{table}/*.parquet") + lake.glob(
            f"{STAGING_SILVER}/{table}/*/*.parquet"
        )
        if staged and not lake.exists(marker):
            continue
        lake.write_bytes(marker, b"copying the plain Parquet of silver/ here\n")
        for rel in files:
            target = STAGING_SILVER + rel[len(SILVER) :]
            lakefiles.copy(lake.url(rel), lake.url(target), lake.s3_endpoint)
        lake.remove([marker])
        copied.append(f"{table}: {len(files)} file(s)")
    return f"staged from {SILVER}/ " + ", ".join(copied) if copied else "nothing to stage"
