"""The knobs of a validation run (``TWEETLAKE_QUALITY_*``): reference time, freshness, batch size, memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foundation.times import parse_utc

TRUE = ("1", "true", "yes")


@dataclass
class QualityOptions:
    """Knobs of a validation run; ``from_env`` reads ``TWEETLAKE_QUALITY_*`` and applies overrides."""

    as_of: datetime | None = None
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
        if raw := env.get("TWEETLAKE_QUALITY_MAX_AGE_HOURS", "").strip():
            opts.max_age = timedelta(hours=float(raw))
        if raw := env.get("TWEETLAKE_QUALITY_CLOCK_SKEW_MINUTES", "").strip():
            opts.clock_skew = timedelta(minutes=float(raw))
        if raw := env.get("TWEETLAKE_QUALITY_BATCH_ROWS", "").strip():
            opts.batch_rows = max(1, int(raw))
        if raw := env.get("TWEETLAKE_QUALITY_MEMORY_LIMIT", "").strip():
            opts.memory_limit = raw
        if raw := env.get("TWEETLAKE_MAX_REJECTED_SHARE", "").strip():
            opts.max_rejected_share = float(raw)
        opts.full = env.get("TWEETLAKE_QUALITY_FULL", "").strip().lower() in TRUE
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "as_of" and isinstance(value, str):
                value = parse_utc(value)
            if key == "max_age" and not isinstance(value, timedelta):
                value = timedelta(hours=float(value))
            setattr(opts, key, value)
        return opts
