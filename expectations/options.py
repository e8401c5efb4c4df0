"""The knobs of a validation run (``TWEETLAKE_QUALITY_*``): reference time, freshness, batch size, memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foundation.settings import ConfigError
from foundation.times import parse_utc

TRUE = ("1", "true", "yes")


@dataclass
class QualityOptions:
    """Knobs of a validation run; ``from_env`` reads ``TWEETLAKE_QUALITY_*`` and applies overrides."""

    as_of: datetime | None = None
    # A scheduled run's own time (the Airflow run's data interval end): the reference time is then the later
    # of it and the newest fetch in bronze, so a lake whose ingest stopped goes stale (see reference_time)
    run_at: datetime | None = None
    max_age: timedelta = timedelta(hours=48)
    clock_skew: timedelta = timedelta(minutes=5)
    batch_rows: int = 300_000
    memory_limit: str = "1GB"
    full: bool = False
    examples: int = 20
    # TWEETLAKE_MAX_REJECTED_SHARE; None: the default of each source (expectations.rejections)
    max_rejected_share: float | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> QualityOptions:
        env = dict(os.environ if env is None else env)
        opts = cls()
        if raw := env.get("TWEETLAKE_QUALITY_AS_OF", "").strip():
            opts.as_of = parse_utc(raw)
        if (
            hours := _number(env, "TWEETLAKE_QUALITY_MAX_AGE_HOURS", "a number of hours, e.g. 48")
        ) is not None:
            opts.max_age = timedelta(hours=hours)
        skew = _number(env, "TWEETLAKE_QUALITY_CLOCK_SKEW_MINUTES", "a number of minutes, e.g. 5")
        if skew is not None:
            opts.clock_skew = timedelta(minutes=skew)
        if (
            rows := _number(env, "TWEETLAKE_QUALITY_BATCH_ROWS", "a whole number of rows, e.g. 300000")
        ) is not None:
            if rows != int(rows):
                raise ConfigError(f"TWEETLAKE_QUALITY_BATCH_ROWS={rows!r}: expected a whole number of rows")
            opts.batch_rows = max(1, int(rows))
        if raw := env.get("TWEETLAKE_QUALITY_MEMORY_LIMIT", "").strip():
            opts.memory_limit = raw
        opts.max_rejected_share = _share(env, "TWEETLAKE_MAX_REJECTED_SHARE")
        opts.full = env.get("TWEETLAKE_QUALITY_FULL", "").strip().lower() in TRUE
        for key, value in overrides.items():
            if value is None:
                continue
            if key in ("as_of", "run_at") and isinstance(value, str):
                value = parse_utc(value)
            if key == "max_age" and not isinstance(value, timedelta):
                value = timedelta(hours=float(value))
            setattr(opts, key, value)
        return opts


def _number(env: dict[str, str], name: str, expected: str) -> float | None:
    """The number a setting holds (None when unset), or a ConfigError naming it and what it takes."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: expected {expected}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}={raw!r} is not a finite number: expected {expected}")
    return value


def _share(env: dict[str, str], name: str) -> float | None:
    share = _number(env, name, "a fraction from 0 to 1, e.g. 0.01 for 1%")
    if share is not None and not 0 <= share <= 1:
        raise ConfigError(
            f"{name}={share!r} is not a share: expected a fraction from 0 to 1, e.g. 0.01 for 1%"
        )
    return share
