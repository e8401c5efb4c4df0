"""dbt-duckdb plugin: give every DuckDB connection dbt opens the lake's filesystem and SQL helpers.

DuckDB cannot download its ``httpfs`` extension here, and the lake's S3 settings live in one place
(:mod:`foundation.settings`), so s3:// paths go through the same s3fs filesystem the ingestion uses.

SQL functions registered on every connection (used by the macros in dbt_project/macros):

- ``tweetlake_prepare(location)``: make a local model file's folder (DuckDB's COPY does not);
- ``tweetlake_ls(glob)``: the files matching a glob in the lake, as a list of {path, size, mtime};
- ``tweetlake_scratch(location, name)``: a fresh folder to COPY a model's rows into;
- ``tweetlake_install(scratch, location, mode, batch)``: swap those files into the lake (see
  :mod:`foundation.lakefiles`);
- ``tweetlake_migrate_state(lake)``: move an older lake's build state to ``_state/build/``
  (:mod:`dbt_runtime.state`; dbt's on-run-start calls it);
- ``tweetlake_classify(files)``: for each new bronze file (a list of {path, size, mtime}), which read takes
  it and the lines it sets aside, in order (:mod:`dbt_runtime.bronze_read`; model stg_bronze_files calls it
  once with every new file, so they are classified on every core).
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from dbt_runtime import bronze_read, state
from foundation import lakefiles
from foundation.lake import Lake
from foundation.settings import is_remote

LS_TYPE = "STRUCT(path VARCHAR, size BIGINT, mtime VARCHAR)[]"


def prepare_location(location: str) -> str:
    """Make the folder a model's file is written to (DuckDB's COPY does not create folders)."""
    if location and not is_remote(location):
        os.makedirs(os.path.dirname(os.path.abspath(location)), exist_ok=True)
    return location


def register_lake_filesystem(conn: Any, lake: str, s3_endpoint: str | None) -> None:
    """Register s3fs on a DuckDB connection when the lake is on S3, and the lake's SQL helpers."""
    Lake(lake, s3_endpoint).register_with(conn)
    endpoint = s3_endpoint or None

    def ls(pattern: str) -> list[dict[str, Any]]:
        return lakefiles.list_files(pattern, endpoint)

    def install(scratch: str, location: str, mode: str, batch: str) -> str:
        return lakefiles.install(scratch, location, mode, batch, endpoint)

    def migrate_state(root: str) -> str:
        return state.migrate(Lake(root, endpoint))

    def classify(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return bronze_read.classify_files(lake, endpoint, files)

    functions: list[tuple[str, Any, list[str], str]] = [
        ("tweetlake_prepare", prepare_location, ["VARCHAR"], "VARCHAR"),
        ("tweetlake_ls", ls, ["VARCHAR"], LS_TYPE),
        ("tweetlake_scratch", lakefiles.scratch_dir, ["VARCHAR", "VARCHAR"], "VARCHAR"),
        ("tweetlake_install", install, ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
        ("tweetlake_migrate_state", migrate_state, ["VARCHAR"], "VARCHAR"),
        ("tweetlake_classify", classify, [LS_TYPE], f"{bronze_read.CLASSIFIED_TYPE}[]"),
    ]
    for name, func, params, returns in functions:
        try:
            conn.create_function(name, func, params, returns, side_effects=True)
        except Exception as exc:  # already registered on this connection
            if "already exists" not in str(exc):
                raise


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.lake = str(plugin_config.get("lake") or "")
        self.s3_endpoint = str(plugin_config.get("s3_endpoint") or "") or None

    def configure_connection(self, conn: Any) -> None:
        register_lake_filesystem(conn, self.lake, self.s3_endpoint)
