"""Where a build keeps its state between builds, and moving an older lake's state there.

Two dbt models are pipeline state, not tables for users: ``bronze_files`` (the bronze files processed, so
the next build skips them) and ``tweet_sentiment`` (the score of every text ever scored, so no text is
scored twice). They live in ``<lake>/_state/build/<table>/`` (:data:`foundation.layout.BUILD_STATE`);
lakes built before kept them in ``silver/<table>/``. :func:`migrate` moves them there, file by file, keeping
their relative paths: nothing is reprocessed or rescored. It runs before every build (the runner calls it
before listing the backlog, dbt's on-run-start through the plugin, so a ``dbt build`` by hand migrates too)
and costs two listings once there is nothing left to move. An interrupted move is finished by the next one.
"""

from __future__ import annotations

from foundation import lakefiles
from foundation.lake import Lake
from foundation.layout import BUILD_STATE, SILVER

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
