"""The lake layout, one home: every lake-relative path and pattern the packages read or write.

The layout is a public contract (README, "The lake"); changing a value here changes it for every layer.
"""

from __future__ import annotations

# Where pages come from (ingestion.sources builds them; the CLI and the DAG offer the same names).
SOURCES = ("sample", "replay", "api")

BRONZE = "bronze"
BRONZE_GLOB = f"{BRONZE}/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl"  # every bronze object
SILVER = "silver"
GOLD = "gold"
STAGING = "_staging"  # silver and gold as built, before the gate (write-audit-publish)
STAGING_SILVER = f"{STAGING}/silver"  # the build's working copy of silver: plain Parquet, hive-partitioned
STAGING_GOLD = f"{STAGING}/gold"
GATE_RECORD = (
    "_gate.json"  # in each staged layer: the gate's verdict on the files it validated (publish checks it)
)
PUBLISHED = "gold/_published.json"
SILVER_PUBLISHED = "silver/_published.json"  # which run published silver; the staged files each table holds
LAYERS = (SILVER, GOLD)  # the layers of Delta tables (publish, history, rollback, maintain)

STATE = "_state"  # pipeline state: not tables for users
WATERMARKS = f"{STATE}/watermarks"
RUN_JOURNALS = f"{STATE}/runs"
COVERAGE = f"{STATE}/coverage"  # full-archive backfills: which windows of each query are complete
CONVERSATIONS = f"{STATE}/conversations"  # the conversations each stream follows (ingestion.conversations)
SPEND = f"{STATE}/spend"  # the spend ledger: posts read from the API per run and stream (ingestion.spend)
BUILD_STATE = f"{STATE}/build"  # what dbt keeps between builds (processed bronze files, sentiment cache)
COMPLIANCE = f"{STATE}/compliance"  # batch compliance: jobs, their results as downloaded, redactions
LEASE = f"{STATE}/lease.json"  # the one writer of the lake, whatever its machine (foundation.lease)

QUALITY = "quality"
QUALITY_RUNS = f"{QUALITY}/runs"
QUALITY_STATE = f"{QUALITY}/_state"
QUALITY_INDEX = f"{QUALITY}/index.html"
QUALITY_DOCS = f"{QUALITY}/docs"
REPORT = "report"  # the lake report: gold as charts (pipeline.lake_report)
REPORT_INDEX = f"{REPORT}/index.html"
