"""Which time the gate judges freshness at (``expectations.run.Run.reference_time``), without a lake."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from expectations import run as run_module
from expectations.options import QualityOptions
from expectations.run import Run

NEWEST_FETCH = datetime(2026, 11, 25, 12, tzinfo=UTC)


def reference(
    monkeypatch: pytest.MonkeyPatch, newest: datetime | None, **options: Any
) -> tuple[datetime, str]:
    monkeypatch.setattr(run_module, "newest_fetch", lambda bronze: newest)
    monkeypatch.setattr(run_module, "fetched_ahead", lambda bronze, limit: None)  # no clock ahead here
    fake = SimpleNamespace(options=QualityOptions.from_env({}, **options), bronze=None)
    return Run.reference_time(fake)  # type: ignore[arg-type]


def test_a_scheduled_run_judges_at_its_time_unless_bronze_is_newer(monkeypatch: pytest.MonkeyPatch) -> None:
    later = datetime(2026, 12, 2, tzinfo=UTC)
    # ingest stopped on the 25th: the scheduled run of Dec 2 judges at Dec 2 (the bug: it judged at the 25th)
    assert reference(monkeypatch, NEWEST_FETCH, run_at=later)[0] == later
    # a backfill of Nov 20 on a lake fetched up to the 25th: judged at the fetch, not in its past
    when, said = reference(monkeypatch, NEWEST_FETCH, run_at=datetime(2026, 11, 20, tzinfo=UTC))
    assert when == NEWEST_FETCH and "after the scheduled run's time" in said
    assert reference(monkeypatch, None, run_at=later)[0] == later


def test_as_of_wins_and_the_cli_default_is_the_newest_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    assert reference(monkeypatch, NEWEST_FETCH, as_of=as_of, run_at=datetime(2026, 12, 2, tzinfo=UTC)) == (
        as_of,
        "as_of setting",
    )
    assert reference(monkeypatch, NEWEST_FETCH) == (NEWEST_FETCH, "newest fetched_at in bronze")
