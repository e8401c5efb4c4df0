"""The gate's record for publish (``_staging/gold/_gate.json``) and publish's check of it, on a tmp lake."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations.gate import check_publishable, record_gate
from expectations.results import Failure, PublishRefused, QualityGateFailed, ValidationReport
from expectations.suites import SuiteFile
from expectations.tables import find_table
from foundation.lake import Lake

STAGING = "_staging/gold"
TABLES = ("top_tweets", "sentiment_daily")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    for t in TABLES:
        write(lake, t, 2)
    return lake


def write(lake: Lake, table: str, rows: int) -> str:
    path = lake.url(STAGING, f"{table}.parquet")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table({"n": list(range(rows))}), path)
    return f"{STAGING}/{table}.parquet"


def staged(lake: Lake) -> list[str]:
    return sorted(lake.glob(f"{STAGING}/*.parquet"))


def gate(lake: Lake, run_id: str, failures: list[Failure] | None = None) -> None:
    report = ValidationReport(run_id=run_id, started_at="", success=not failures, failures=failures or [])
    suites = [SuiteFile(f"gold.{t}", "gold", t, {}) for t in TABLES]
    record_gate(lake, STAGING, report, [find_table(lake, s, lake.url(STAGING)) for s in suites])


def test_validated_gold_that_passed_is_publishable(lake: Lake) -> None:
    gate(lake, "r1")
    record = check_publishable(lake, STAGING, staged(lake))
    assert record["run_id"] == "r1" and record["passed"] is True and sorted(record["files"]) == staged(lake)


def test_gold_never_validated_is_refused(lake: Lake) -> None:
    with pytest.raises(PublishRefused, match="was never validated; run `tweetlake validate`") as caught:
        check_publishable(lake, STAGING, staged(lake))
    assert isinstance(caught.value, QualityGateFailed) and caught.value.report is None  # the CLI's exit 3
    gate(lake, "r1")
    late = write(lake, "interactions", 1)  # staged after the gate ran
    with pytest.raises(PublishRefused, match="interactions.parquet never validated"):
        check_publishable(lake, STAGING, staged(lake))
    assert late in staged(lake)


def test_gold_that_failed_its_gate_is_refused(lake: Lake) -> None:
    gate(lake, "r2", [Failure("gold.top_tweets", "expect_column_values_to_be_between", "n", 1, [-1])])
    with pytest.raises(
        PublishRefused, match=r"failed its quality gate in run r2 \(failed: gold.top_tweets\)"
    ):
        check_publishable(lake, STAGING, staged(lake))


def test_gold_changed_after_validation_is_refused(lake: Lake) -> None:
    gate(lake, "r3")
    write(lake, "top_tweets", 5)  # rebuilt after the gate
    with pytest.raises(PublishRefused, match="top_tweets.parquet changed after the gate of run r3"):
        check_publishable(lake, STAGING, staged(lake))
    gate(lake, "r4")  # validated again as it is now
    assert check_publishable(lake, STAGING, staged(lake))["run_id"] == "r4"


def test_a_failed_gate_links_each_failing_tables_page_before_its_failures() -> None:
    """What an Airflow alert shows first (its text is cut at 1,500 characters): the failing tables' pages."""
    report = ValidationReport(run_id="r1", started_at="2026-12-01T00:00:00Z", success=False)
    report.index_path = "s3://bucket/lake/quality/index.html"
    many = [
        Failure("silver.tweets", "expect_column_values_to_not_be_null", f"c{i}", 3, []) for i in range(40)
    ]
    report.failures = [
        *many,
        Failure(
            "gold.top_tweets",
            "expect_column_values_to_be_unique",
            "tweet_id",
            2,
            ["9"],
            docs_page="p/top.html",
        ),
    ]
    for f in many:
        f.docs_page = "p/tweets.html"
    message = str(QualityGateFailed(report))
    head = message[:300]
    assert "page of gold.top_tweets: s3://bucket/lake/quality/p/top.html" in head
    assert "page of silver.tweets: s3://bucket/lake/quality/p/tweets.html" in head
    assert message.index("page of") < message.index("expect_column_values_to_not_be_null")
