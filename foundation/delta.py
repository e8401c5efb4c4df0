"""Delta Lake tables in the lake (delta-rs through the ``deltalake`` package): how to reach them.

A Delta table is a folder (``<lake>/gold/<table>/``) of Parquet files and a ``_delta_log/`` of commits; every
commit is a version that can be read again (time travel) or restored, and Spark, Trino, Athena, DuckDB,
Polars and pandas read it. On S3, delta-rs commits with a conditional PUT (``conditional_put: etag``), so two
writers never overwrite each other's commit. Credentials come from the standard AWS environment, as for s3fs.
``deltalake`` is imported inside the functions: most commands never touch a Delta table.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from foundation.lake import Lake

if TYPE_CHECKING:
    from deltalake import DeltaTable

RUN_ID = "tweetlake.run_id"  # commit metadata: the run that wrote the version
GATE_RUN = "tweetlake.gate_run"  # the validation run whose gate passed what was published
RESTORED_FROM = "tweetlake.restored_from"  # a rollback's commit: the version it restored
TARGET_FILE_BYTES = 32 << 20


def storage_options(lake: Lake) -> dict[str, str] | None:
    """delta-rs' options for the lake: none for a folder; for S3 the endpoint, plain HTTP for a local one,
    the region, and conditional PUTs for safe commits."""
    if not lake.remote:
        return None
    options = {"conditional_put": "etag"}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    if lake.s3_endpoint:
        options["AWS_ENDPOINT_URL"] = lake.s3_endpoint
        if lake.s3_endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


def open_table(lake: Lake, rel: str, version: int | None = None) -> DeltaTable:
    from deltalake import DeltaTable

    return DeltaTable(lake.url(rel), version=version, storage_options=storage_options(lake))


def overwrite(lake: Lake, rel: str, data: Any, metadata: dict[str, str]) -> int:
    """Replace the table's content with ``data`` (Arrow) as one new version; its number."""
    from deltalake import CommitProperties, write_deltalake

    write_deltalake(
        lake.url(rel),
        data,
        mode="overwrite",
        schema_mode="overwrite",  # a gold table's columns may change between releases
        storage_options=storage_options(lake),
        # files of ~32 MB, not delta-rs' 100 MB: what it buffers before writing a file is what memory holds
        target_file_size=TARGET_FILE_BYTES,
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    return int(open_table(lake, rel).version())


def restore(lake: Lake, rel: str, version: int, metadata: dict[str, str]) -> int:
    """Make version ``version``'s content the table's current state, as one new version; its number."""
    from deltalake import CommitProperties

    table = open_table(lake, rel)
    table.restore(version, commit_properties=CommitProperties(custom_metadata=metadata))
    return int(open_table(lake, rel).version())
