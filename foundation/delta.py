"""Delta Lake tables in the lake (delta-rs through the ``deltalake`` package): how to reach them.

A Delta table is a folder (``<lake>/gold/<table>/``) of Parquet files and a ``_delta_log/`` of commits; every
commit is a version that can be read again (time travel) or restored, and Spark, Trino, Athena, DuckDB,
Polars and pandas read it. On S3, delta-rs commits with a conditional PUT (``conditional_put: etag``), so two
writers never overwrite each other's commit. Credentials come from the standard AWS environment, as for s3fs.
``deltalake`` is imported inside the functions: most commands never touch a Delta table.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from foundation.lake import Lake, S3Unavailable
from foundation.settings import s3_client

if TYPE_CHECKING:
    from deltalake import DeltaTable

RUN_ID = "tweetlake.run_id"  # commit metadata: the run that wrote the version
GATE_RUN = "tweetlake.gate_run"  # the validation run whose gate passed what was published
RESTORED_FROM = "tweetlake.restored_from"  # a rollback's commit: the version it restored
TARGET_FILE_BYTES = 32 << 20


def storage_options(lake: Lake) -> dict[str, str] | None:
    """delta-rs' options for the lake: none for a folder; for S3 the endpoint, plain HTTP for a local one,
    the region, conditional PUTs for safe commits, and the same timeouts and tries as s3fs
    (``TWEETLAKE_S3_TIMEOUT``, ``TWEETLAKE_S3_MAX_ATTEMPTS``: :func:`foundation.settings.s3_client`).

    object_store (delta-rs' S3 client) retries 5xx answers, timeouts and dropped connections by itself, up
    to ``max_retries`` times with backoff; its defaults (10 retries for up to 3 minutes, a 30 s request
    timeout) are replaced by the lake's, so a publish meets a failing store as briefly as an ingest does.
    Its ``timeout`` counts a whole request (a multipart part's upload included: on a slow link, raise
    ``TWEETLAKE_S3_TIMEOUT``); the default, 30 s, is delta-rs' own.
    """
    if not lake.remote:
        return None
    client = s3_client()
    options = {
        "conditional_put": "etag",
        "timeout": f"{client.timeout:g}s",
        "connect_timeout": f"{client.connect_timeout:g}s",
        "max_retries": str(client.max_attempts - 1),
        # the whole retrying of one request: its tries with their backoff (100 ms, doubling, at most 15 s)
        "retry_timeout": f"{client.max_attempts * (client.timeout + 15):g}s",
    }
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    if lake.s3_endpoint:
        options["AWS_ENDPOINT_URL"] = lake.s3_endpoint
        if lake.s3_endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


# what delta-rs (object_store) says when the store failed it, after its retries
_STATUS = re.compile(r"Server returned non-2xx status code: (\d{3}[^:<]*)")
_S3_FAILED = re.compile(
    r"Generic S3 error|error sending request|timed out|operation timed out", re.IGNORECASE
)
_REQUEST = re.compile(r"Error performing (\w+) (\S+)")


@contextlib.contextmanager
def _store_errors(lake: Lake, rel: str, what: str) -> Iterator[None]:
    """Raise :class:`S3Unavailable` (the request, the table, what to do) for a delta-rs error that says the
    store failed it: delta-rs says "Failed to parse parquet: External: Generic S3 error: ..." for a 503 storm,
    and only "Kernel error -> Generic S3 error" for a store too slow, naming nothing. Others pass as they are
    (a missing table: ``TableNotFoundError``)."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        if not lake.remote or not _S3_FAILED.search(text):
            raise
        status = _STATUS.search(text)
        request = _REQUEST.search(text)
        why = (
            f"HTTP {status.group(1).strip()}"
            if status
            else "no answer within TWEETLAKE_S3_TIMEOUT or a failed connection"
        )
        failure = S3Unavailable(
            request=f"{request.group(1)} ({what})" if request else what,
            target=lake.url(rel),
            why=why,
            endpoint=lake.s3_endpoint or "AWS S3",
            attempts=s3_client().max_attempts,
        )
        raise failure from exc


def open_table(lake: Lake, rel: str, version: int | None = None) -> DeltaTable:
    from deltalake import DeltaTable

    with _store_errors(lake, rel, "Delta table read"):
        return DeltaTable(lake.url(rel), version=version, storage_options=storage_options(lake))


def overwrite(lake: Lake, rel: str, data: Any, metadata: dict[str, str]) -> int:
    """Replace the table's content with ``data`` (Arrow) as one new version; its number."""
    from deltalake import CommitProperties, write_deltalake

    # a failure leaves the table at its last version: its new files, if any landed, belong to no commit
    with _store_errors(lake, rel, "Delta table write"):
        write_deltalake(
            lake.url(rel),
            data,
            mode="overwrite",
            schema_mode="overwrite",  # a gold table's columns may change between releases
            storage_options=storage_options(lake),
            # files of ~32 MB, not delta-rs' 100 MB: what it buffers before writing a file is in memory
            target_file_size=TARGET_FILE_BYTES,
            commit_properties=CommitProperties(custom_metadata=metadata),
        )
    return int(open_table(lake, rel).version())


def restore(lake: Lake, rel: str, version: int, metadata: dict[str, str]) -> int:
    """Make version ``version``'s content the table's current state, as one new version; its number."""
    from deltalake import CommitProperties

    table = open_table(lake, rel)
    with _store_errors(lake, rel, "Delta table restore"):
        table.restore(version, commit_properties=CommitProperties(custom_metadata=metadata))
    return int(open_table(lake, rel).version())


LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_LOG_RETENTION = "interval 30 days"  # Delta's own default


def purge_history(lake: Lake, rel: str, metadata: dict[str, str]) -> int:
    """Leave only the current version readable: every file no longer in it vacuumed, and every commit
    before it removed from the log (a commit's statistics hold column minimums and maximums, so an old
    commit can still name a removed post). For compliance: what was removed must not stay reachable by time
    travel. The number of data files vacuumed.

    Delta removes log entries only past ``delta.logRetentionDuration``: the table's is set to zero, the log
    checkpointed and cleaned, and the default set again (two small commits carrying ``metadata``, the run
    that purged, so history shows them as that run's; no data rewritten)."""
    from deltalake import CommitProperties

    with _store_errors(lake, rel, "Delta history purge"):
        table = open_table(lake, rel)
        vacuumed = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        commit = CommitProperties(custom_metadata=metadata)
        table.alter.set_table_properties({LOG_RETENTION: "interval 0 seconds"}, commit_properties=commit)
        table = open_table(lake, rel)
        table.create_checkpoint()
        table.cleanup_metadata()
        table.alter.set_table_properties({LOG_RETENTION: DEFAULT_LOG_RETENTION}, commit_properties=commit)
    return len(vacuumed)


def commit_files(
    lake: Lake,
    rel: str,
    files: list[dict[str, Any]],
    schema: Any,
    *,
    partition_by: list[str],
    replace: list[str] | None,
    metadata: dict[str, str],
) -> int:
    """Commit Parquet files already in the table's folder as one new version; its number.

    ``files``: each a dict of ``path`` (relative to the table), ``size``, ``partition`` (the ``dt`` value
    or None), ``mtime_ms`` and ``rows``. ``replace``: the partition values (never None: a null partition is
    replaced with the whole table) whose current files the version removes, an overwrite by partition;
    None replaces the whole table (and creates it if there is none).
    ``schema``: the table's Delta schema (``deltalake.Schema``), partition column included.
    """
    from deltalake import CommitProperties
    from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

    adds = [
        AddAction(
            f["path"],
            int(f["size"]),
            {partition_by[0]: f["partition"]} if partition_by else {},
            int(f["mtime_ms"]),
            True,
            json.dumps({"numRecords": int(f["rows"])}),
        )
        for f in files
    ]
    commit = CommitProperties(custom_metadata=metadata)
    with _store_errors(lake, rel, "Delta table commit"):
        if replace is None and not lake.exists(f"{rel}/_delta_log"):
            create_table_with_add_actions(
                lake.url(rel),
                schema,
                adds,
                mode="error",
                partition_by=partition_by,
                storage_options=storage_options(lake),
                commit_properties=commit,
            )
        else:
            table = open_table(lake, rel)
            filters = [(partition_by[0], "in", replace)] if replace is not None else None
            actions: list[AddAction | RemoveAction] = list(adds)
            table.create_write_transaction(
                actions,
                "overwrite",
                schema,
                partition_by=partition_by or None,
                partition_filters=filters,
                commit_properties=commit,
            )
    return int(open_table(lake, rel).version())
