"""The spend ledger: the posts each API pull read, kept in the lake, and the monthly budget it is checked
against (``TWEETLAKE_MONTHLY_POST_BUDGET``).

The API bills every post it returns, also those of a pull that failed later or whose pages a rerun
replaced, so the ledger is its own append-only record (one file per run and stream), not the run journals
(which a rerun of the same run key overwrites): ``<lake>/_state/spend/month=YYYY-MM/<run id>-<endpoint>-
<stream key>.json`` with the run, stream, UTC day, requests and posts read. Months are calendar months in UTC
(the X Developer Console's billing cycle may start on another day: set the budget with that margin).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass
from datetime import datetime

from foundation.lake import Lake, LakeError
from foundation.layout import SPEND
from foundation.times import isoformat_z, utcnow
from ingestion.pages import stream_key

BILLED_SOURCES = ("api",)  # generated and replayed pages cost nothing


@dataclass(frozen=True)
class Spend:
    """What one pull read from the API."""

    run_id: str
    source: str
    endpoint: str
    stream: str
    day: str  # UTC date the pull ended
    requests: int
    posts: int
    finished_at: str
    complete: bool  # false: the pull failed or stopped at a budget after these reads


def month_of(ts: datetime) -> str:
    return ts.strftime("%Y-%m")


def record(lake: Lake, spend: Spend) -> str:
    """Write one pull's spend (whole, atomically; the same run and stream written again replaces it)."""
    name = f"{spend.run_id}-{spend.endpoint}-{stream_key(spend.stream)}.json"
    return lake.write_json(posixpath.join(SPEND, f"month={spend.day[:7]}", name), asdict(spend))


def spent(
    lake: Lake,
    source: str,
    endpoint: str,
    stream: str,
    run_id: str,
    requests: int,
    posts: int,
    complete: bool,
) -> Spend | None:
    """Record a pull's reads if its source is billed; the record, or None."""
    if source not in BILLED_SOURCES or not requests:
        return None
    now = utcnow()
    entry = Spend(
        run_id, source, endpoint, stream, now.date().isoformat(), requests, posts, isoformat_z(now), complete
    )
    record(lake, entry)
    return entry


def ledger(lake: Lake, month: str | None = None) -> list[Spend]:
    """The ledger's records, of one month (``YYYY-MM``) or all, oldest first. A record that is not one
    fails (the budget would be checked against a wrong sum), naming it."""
    pattern = posixpath.join(SPEND, f"month={month or '*'}", "*.json")
    entries = [_entry(lake, rel) for rel in lake.glob(pattern)]
    return sorted(entries, key=lambda e: e.finished_at)


def posts_this_month(lake: Lake, now: datetime | None = None) -> int:
    month = month_of(now or utcnow())
    return sum(e.posts for e in ledger(lake, month) if e.source in BILLED_SOURCES)


def _entry(lake: Lake, rel: str) -> Spend:
    try:
        doc = lake.read_json(rel, {})
        return Spend(**{name: doc[name] for name in Spend.__dataclass_fields__})
    except (KeyError, TypeError, ValueError) as exc:
        raise LakeError(
            f"{lake.url(rel)}: not a spend ledger record ({type(exc).__name__}: {exc}); the monthly post "
            "budget cannot be checked. Restore or remove that file (it is the record of one pull's reads)."
        ) from None
