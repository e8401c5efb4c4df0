"""A validation run's shared resources: the DuckDB database with a view of every table, GX, bronze."""

from __future__ import annotations

import logging
import posixpath
import shutil
import tempfile
from datetime import UTC, datetime
from typing import Any

from expectations import gx_adapter
from expectations.bronze import BRONZE_IDS, Bronze, fetched_ahead, newest_fetch
from expectations.duck import Duck, Reduced, session
from expectations.merge import patched
from expectations.options import QualityOptions
from expectations.plan import Planned
from expectations.tables import Table, read_parquet
from foundation.lake import Lake
from foundation.sql import literal
from foundation.times import isoformat_z

log = logging.getLogger(__name__)


class Run:
    """The main side of a run (GX, the reference time, bronze) and the run's DuckDB database."""

    def __init__(self, lake: Lake, options: QualityOptions, workdir: str) -> None:
        import duckdb

        self.lake = lake
        self.options = options
        self.context = gx_adapter.context(workdir)
        self.gx = gx_adapter.Evaluator(self.context)
        self.con = session(duckdb.connect())
        # DuckDB reads the tables through a filesystem whose listings are cached for the run: the run holds
        # the lake's lease, so the tables do not change under it, and each file's size comes from one listing
        # of its table instead of a HEAD each time a query opens it (3,352 requests for a 600-tweet lake)
        self.reader = lake.snapshot_reader()
        self.reader.register_with(self.con)
        self.con.execute(f"set memory_limit = {literal(options.memory_limit)}")
        self.con.execute("set preserve_insertion_order = false")
        self.spill = tempfile.mkdtemp(prefix="tweetlake-gx-spill-")
        self.con.execute(f"set temp_directory = {literal(self.spill)}")
        self.tables: dict[str, Table] = {}
        self._listed: set[str] = set()
        self.bronze = Bronze(lake, use_cache=not options.full)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def register(self, table: Table) -> None:
        """A view of the table's files (a plain view: the background thread's connection sees it too)."""
        self.tables[table.suite.name] = table
        # a silver table is a folder, a gold table a file of the (staged) gold folder: list that folder once
        folder = posixpath.dirname(table.location) if table.location.endswith(".parquet") else table.location
        if table.files and self.reader.remote and folder not in self._listed:
            self.reader.fs.find(self.reader._strip(folder))
            self._listed.add(folder)
        if table.files:
            source = read_parquet(self.lake, table.files)
            self.con.execute(f"create or replace view {table.view} as select * from {source}")

    def duck(self) -> Duck:
        """DuckDB queries on a connection of their own (for the background thread)."""
        return Duck(self.lake, self.options, self.tables, session(self.con.cursor()))

    def judge(self, p: Planned, reduced: Reduced, rows: int) -> dict[str, Any]:
        """GX's verdict on a reduced whole-table expectation, with DuckDB's exact counts written back."""
        assert reduced.frame is not None, p  # only a skipped or failed reduction has none
        [result] = self.gx.evaluate(reduced.frame, [p.build(reduced.kwargs)])
        return patched(result, reduced.patch, rows)

    def reference_time(self) -> tuple[datetime, str]:
        """The time freshness and "not in the future" are judged at, and where it came from.

        ``as_of`` (the caller's, else ``TWEETLAKE_QUALITY_AS_OF``) wins. A scheduled run (``run_at``: its
        data interval end, which is when it starts) judges at the later of ``run_at`` and the newest fetch
        in bronze: an ingest that quietly stopped leaves the newest fetch behind, but not the schedule, so
        the lake fails freshness ``max_age`` after its last tweet; and a backfill of an old interval on a
        lake that holds newer tweets is judged at their fetch, not in their past. Without either: the newest
        fetch in bronze (a lake judged as of the last time it heard from the API), else now. A real page
        stamped after this machine's clock (plus the skew allowed) is never the reference: the ingesting
        machine's clock is wrong, so the current time is, and the reason names the file.
        """
        if self.options.as_of:
            return self.options.as_of.astimezone(UTC), "as_of setting"
        newest = newest_fetch(self.bronze)
        now = datetime.now(UTC)
        ahead = fetched_ahead(self.bronze, now + self.options.clock_skew)
        if ahead is not None:  # not a reference: freshness and "not after" would be judged by a wrong clock
            rel, stamp = ahead
            hours = (stamp - now).total_seconds() / 3600
            return now, (
                f"current time: {rel} has fetched_at {isoformat_z(stamp)}, {hours:.1f} h ahead of this "
                "machine's clock; the clock of the machine that ingested it is probably wrong: check its "
                "time sync (NTP), or set TWEETLAKE_QUALITY_AS_OF"
            )
        run_at = self.options.run_at
        if run_at is not None:
            run_at = run_at.astimezone(UTC)
            if newest is None or run_at >= newest:
                return run_at, "the scheduled run's time (its data interval end)"
            return newest.astimezone(UTC), "newest fetched_at in bronze (after the scheduled run's time)"
        if newest is not None:
            return newest.astimezone(UTC), "newest fetched_at in bronze"
        return now, "current time (bronze is empty)"

    def keep_bronze(self) -> None:
        try:
            self.bronze.save()
        except Exception as exc:  # a cache: the next run reads bronze again
            log.warning("could not keep the bronze id cache %s: %s", BRONZE_IDS, exc)
