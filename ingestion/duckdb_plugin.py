"""dbt-duckdb plugin: give every DuckDB connection dbt opens the lake's filesystem.

DuckDB cannot download its ``httpfs`` extension here, and the lake's S3 settings live in one place
(:mod:`ingestion.config`), so s3:// paths go through the same s3fs filesystem the ingestion uses.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from ingestion.config import is_remote
from ingestion.lake import s3_filesystem


def prepare_location(location: str) -> str:
    """Make the folder a model's file is written to (DuckDB's COPY does not create folders)."""
    if location and not is_remote(location):
        os.makedirs(os.path.dirname(os.path.abspath(location)), exist_ok=True)
    return location


def register_lake_filesystem(conn: Any, lake: str, s3_endpoint: str | None) -> None:
    """Register s3fs on a DuckDB connection when the lake is on S3, and the lake's SQL helpers."""
    if is_remote(lake):
        conn.register_filesystem(s3_filesystem(s3_endpoint or None))
    try:
        conn.create_function("tweetlake_prepare", prepare_location, ["VARCHAR"], "VARCHAR", side_effects=True)
    except Exception as exc:  # already registered on this connection
        if "already exists" not in str(exc):
            raise


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.lake = str(plugin_config.get("lake") or "")
        self.s3_endpoint = str(plugin_config.get("s3_endpoint") or "") or None

    def configure_connection(self, conn: Any) -> None:
        register_lake_filesystem(conn, self.lake, self.s3_endpoint)
