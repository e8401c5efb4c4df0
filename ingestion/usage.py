"""The API's own account of what the project read: ``GET /2/usage/tweets``, kept beside the spend ledger.

The ledger (:mod:`ingestion.spend`) counts what this lake's pulls read; the usage endpoint says what the X
project was billed for, all its apps together, per day for up to 90 days (``daily_project_usage.usage[{date,
usage}]``, ``daily_client_app_usage``), with the cycle's total (``project_usage``), its cap (``project_cap``)
and the day the cap resets (``cap_reset_day``). tweepy has no method for it: the request goes through the
client's own ``request`` (same bearer token, session, timeout, rate-limit waits and retries as every other
call, :meth:`ApiSource._request`). The answer is kept as received in
``<lake>/_state/spend/usage/<YYYY-MM-DD>.json`` (one a day: a later call the same day replaces it; each
holds the 90 days before it). An app whose project may not read it (a 403), or an API that does not answer,
is recorded as not available, with why: it never fails the command that asked.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

from foundation.lake import Lake
from foundation.layout import SPEND
from foundation.times import isoformat_z
from ingestion.http import ApiError
from ingestion.sources.api import ApiSource
from ingestion.sources.base import Pull

log = logging.getLogger(__name__)

USAGE = f"{SPEND}/usage"
ENDPOINT = "usage_tweets"
FIELDS = "cap_reset_day,daily_client_app_usage,daily_project_usage,project_cap,project_id,project_usage"
DAYS = 90  # the most the endpoint serves


@dataclass(frozen=True)
class Usage:
    """One answer of ``GET /2/usage/tweets`` (``data`` as received), or why there is none."""

    fetched_at: str
    available: bool
    reason: str = ""  # why not available
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def project_usage(self) -> int | None:
        return _int(self.data.get("project_usage"))

    @property
    def project_cap(self) -> int | None:
        return _int(self.data.get("project_cap"))

    def daily(self) -> dict[str, int]:
        """Posts the project read per UTC day (``YYYY-MM-DD``), as the API counted them."""
        days = (self.data.get("daily_project_usage") or {}).get("usage") or []
        out: dict[str, int] = {}
        for d in days if isinstance(days, list) else []:
            if isinstance(d, dict) and d.get("date") and _int(d.get("usage")) is not None:
                out[str(d["date"])[:10]] = _int(d["usage"]) or 0
        return out

    def describe(self) -> str:
        if not self.available:
            return f"API usage (GET /2/usage/tweets): not available ({self.reason})"
        used, cap = self.project_usage, self.project_cap
        line = f"API usage (GET /2/usage/tweets): {used if used is not None else '?':,} posts this cycle"
        if cap:
            line += f" of the project's cap of {cap:,}"
        if (reset := self.data.get("cap_reset_day")) is not None:
            line += f", resets on day {reset}"
        daily = self.daily()
        if daily:
            last = sorted(daily)[-7:]
            line += "; last days: " + ", ".join(f"{d} {daily[d]:,}" for d in last)
        return line


def _int(value: Any) -> int | None:
    """The API sends these numbers as strings of digits ("43435") or as numbers."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def fetch(source: ApiSource) -> Usage:
    """Ask the API for the project's usage through ``source``'s client; never raises for an API refusal."""
    now = source.now()
    pull = Pull(ENDPOINT, "project", "usage", now.date(), ())
    try:
        client = source.client()
        params = {"days": DAYS, "usage.fields": FIELDS}
        _, doc = source._request(pull, ENDPOINT, lambda: client.request("GET", "/2/usage/tweets", params))
    except ApiError as exc:
        first = str(exc).splitlines()[0]
        reason = f"this app's project may not read its usage (403): {first}" if "403" in first else first
        log.warning("GET /2/usage/tweets: not available: %s", reason)
        return Usage(isoformat_z(now), False, reason)
    data = doc.get("data")
    if not isinstance(data, dict):
        return Usage(isoformat_z(now), False, "the answer had no data object")
    return Usage(isoformat_z(now), True, data=data)


def record(lake: Lake, usage: Usage) -> str:
    """Keep one answer (or its absence) as ``_state/spend/usage/<day>.json``; the same day's replaced."""
    return lake.write_json(posixpath.join(USAGE, f"{usage.fetched_at[:10]}.json"), asdict(usage))


def recorded(lake: Lake) -> list[Usage]:
    """Every recorded answer, oldest first (a file that is not one is skipped, with a warning)."""
    out = []
    for rel in sorted(lake.glob(f"{USAGE}/*.json")):
        doc = lake.read_json(rel, {}) or {}
        try:
            out.append(Usage(**{k: doc[k] for k in ("fetched_at", "available", "reason", "data")}))
        except (KeyError, TypeError):
            log.warning("%s: not a usage record, skipped", lake.url(rel))
    return out


def daily_usage(lake: Lake) -> dict[str, int]:
    """The API's posts per day over every recorded answer, the latest answer winning for each day."""
    out: dict[str, int] = {}
    for usage in recorded(lake):
        out.update(usage.daily())
    return out
