"""Monitors: how the lake's data moves from day to day, recorded with every validation run.

Expectations say what must hold; monitors say what changed. Each monitor compares the *judged day* (the
newest day of collected tweets, at most the run's reference day) with a trailing baseline of the days
before it (``TWEETLAKE_MONITOR_DAYS``, default 14) and draws a band around the baseline's median: median
± k × 1.4826 × MAD (k = ``TWEETLAKE_MONITOR_K``, default 3; MAD: the median absolute deviation, which one
odd day does not move as it would a standard deviation), never narrower than a floor, so a perfectly steady
baseline does not flag a change of one tweet.

============== ================================================================================
monitor        value judged (key)
============== ================================================================================
volume         collected tweets (``seen_in = 'data'``) per stream on the judged day; on the
               reference day itself the band is prorated by the hours elapsed (a day in progress)
freshness      hours since the newest collected tweet of each stream, at the reference time; band:
               up to the freshness ``max_age`` (``TWEETLAKE_QUALITY_MAX_AGE_HOURS``)
schema_drift   fields of tweets and users in the newest bronze files that are not declared (read by
               the build: dbt_project/models/staging/__sources.yml, or asked of the API:
               foundation/api_fields.py), and fields silver reads that the previous run saw in at
               least half the objects and that are gone; band: none of either
rejected_lines bronze lines set aside (silver.rejected_pages) of the newest ingest date
null_rate      share of null ``author_id``, ``author_username``, ``lang``, ``conversation_id``
distinct_rate  distinct ``author_id`` and ``conversation_id`` per collected tweet
duplicate_text share of collected tweets (retweets aside) whose text another tweet of the day has
language_mix   total variation distance between the day's language shares and the baseline's
counts_gap     per query, the worst shortfall of collected tweets against what the counts endpoint
               said (silver.tweet_counts) over the complete windows of the baseline days and the
               judged day; band: up to ``TWEETLAKE_COUNTS_TOLERANCE`` (default 2%) short
============== ================================================================================

A value outside its band is a *warning*: said in the run record, the report and the log, and the gate
passes. It fails the gate only past a threshold the user sets in ``TWEETLAKE_MONITOR_FAIL``, a comma list of
``name=value``: ``volume_drop`` (share lost against the expected volume, e.g. 0.5), ``volume_spike`` (times
the expected volume, e.g. 3), ``freshness_hours``, ``schema_drift`` (fields), ``rejected_lines``,
``null_rate``, ``distinct_rate`` and ``duplicate_text`` (change of the share against the baseline median,
e.g. 0.2), ``language_mix`` (distance, e.g. 0.3), ``counts_gap`` (share short of the count, e.g. 0.1).
Monitors with fewer than ``MIN_BASELINE_DAYS`` baseline days say ``no baseline`` and judge nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from expectations.results import Failure
from foundation.api_fields import TWEET_FIELDS, USER_FIELDS
from foundation.bronze_shapes import is_counts_file
from foundation.lake import Lake
from foundation.layout import BRONZE
from foundation.settings import ConfigError

log = logging.getLogger(__name__)

DEFAULT_DAYS = 14
DEFAULT_K = 3.0
MIN_BASELINE_DAYS = 5
MAD_SCALE = 1.4826  # MAD of a normal distribution times this is its standard deviation
NULL_COLUMNS = ("author_id", "author_username", "lang", "conversation_id")
DISTINCT_COLUMNS = ("author_id", "conversation_id")
FAIL_KEYS = {
    "volume_drop": "a share of the expected volume lost, between 0 and 1 (e.g. 0.5)",
    "volume_spike": "times the expected volume (e.g. 3)",
    "freshness_hours": "hours since a stream's newest tweet (e.g. 24)",
    "schema_drift": "a number of fields new or gone (e.g. 1)",
    "rejected_lines": "bronze lines set aside on a day (e.g. 100)",
    "null_rate": "a change of the null share (e.g. 0.2)",
    "distinct_rate": "a change of the distinct share (e.g. 0.2)",
    "duplicate_text": "a change of the duplicate-text share (e.g. 0.2)",
    "language_mix": "a distance between language mixes, between 0 and 1 (e.g. 0.3)",
    "counts_gap": "a share of a window's counted posts not collected, between 0 and 1 (e.g. 0.1)",
}
DEFAULT_COUNTS_TOLERANCE = 0.02
# the collections a query's counts are compared with: its search pulls (a filtered stream of the same rule
# sees another set of posts)
COUNTED_ENDPOINTS = ("search_recent", "search_all")
WINDOW_LENGTH = {"minute": "interval 1 minute", "hour": "interval 1 hour", "day": "interval 1 day"}
# twarc2 flatten adds these to each tweet; a filtered stream adds matching_rules beside data
FLATTEN_EXTRAS = frozenset({"author", "in_reply_to_user", "__twarc", "matching_rules"})
SOURCES_YML = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging" / "__sources.yml"
# schema drift reads the newest bronze file of each stream, at most SAMPLE_FILES of them, and the whole lines
# in the first SAMPLE_BYTES of each: every stream's current shape, a few thousand tweets, in bounded time (500
# lines of each of 40 files read 2 GB of pages on a 1M lake: 4 s)
SAMPLE_FILES = 40
SAMPLE_BYTES = 1 << 20
# a stream is a query or account of one endpoint: an account's timeline, mentions and lookups are three
STREAM_KEY = "stream || ' (' || endpoint || ')'"


@dataclass
class Monitor:
    name: str
    key: str  # what it watches: a stream, a column, "tweets", "users"
    day: str  # the judged day (ISO)
    value: float | None
    lower: float | None
    upper: float | None
    status: str  # ok | warning | failed | no baseline
    message: str
    baseline: list[dict[str, Any]] = field(default_factory=list)  # [{"day", "value"}] the days before
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MonitorOptions:
    days: int = DEFAULT_DAYS
    k: float = DEFAULT_K
    fail: dict[str, float] = field(default_factory=dict)
    counts_tolerance: float = DEFAULT_COUNTS_TOLERANCE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MonitorOptions:
        env = dict(os.environ if env is None else env)
        opts = cls()
        if raw := env.get("TWEETLAKE_MONITOR_DAYS", "").strip():
            if not raw.isdigit() or int(raw) < MIN_BASELINE_DAYS:
                raise ConfigError(
                    f"TWEETLAKE_MONITOR_DAYS={raw!r}: expected a whole number of days, "
                    f"at least {MIN_BASELINE_DAYS}"
                )
            opts.days = int(raw)
        if raw := env.get("TWEETLAKE_MONITOR_K", "").strip():
            try:
                opts.k = float(raw)
            except ValueError:
                raise ConfigError(f"TWEETLAKE_MONITOR_K={raw!r}: expected a number, e.g. 3") from None
            if not opts.k > 0:
                raise ConfigError(f"TWEETLAKE_MONITOR_K={raw!r}: expected a positive number, e.g. 3")
        opts.fail = parse_fail(env.get("TWEETLAKE_MONITOR_FAIL", ""))
        if raw := env.get("TWEETLAKE_COUNTS_TOLERANCE", "").strip():
            try:
                opts.counts_tolerance = float(raw)
            except ValueError:
                opts.counts_tolerance = -1.0
            if not 0 <= opts.counts_tolerance < 1:
                raise ConfigError(
                    f"TWEETLAKE_COUNTS_TOLERANCE={raw!r}: expected the share of a window's count the lake "
                    "may miss, at least 0 and below 1 (e.g. 0.02)"
                )
        return opts


def parse_fail(raw: str) -> dict[str, float]:
    """``TWEETLAKE_MONITOR_FAIL`` (``name=value,...``) as a dict, or a ConfigError naming the bad part."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or name not in FAIL_KEYS:
            known = ", ".join(f"{k} ({v})" for k, v in FAIL_KEYS.items())
            raise ConfigError(f"TWEETLAKE_MONITOR_FAIL: {part!r} is not name=value; the names: {known}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(
                f"TWEETLAKE_MONITOR_FAIL: {name}={value!r}: expected {FAIL_KEYS[name]}"
            ) from None
    return out


# -- bands ----------------------------------------------------------------------------------------------


def band(values: list[float], k: float, floor: float) -> tuple[float, float, float]:
    """(median, lower, upper) of a baseline: median ± max(k × 1.4826 × MAD, floor)."""
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    half = max(k * MAD_SCALE * mad, floor)
    return med, med - half, med + half


def _status(value: float, lower: float | None, upper: float | None) -> str:
    if (lower is not None and value < lower) or (upper is not None and value > upper):
        return "warning"
    return "ok"


def _series(days: list[date], values: dict[date, float]) -> list[dict[str, Any]]:
    return [{"day": d.isoformat(), "value": values.get(d, 0.0)} for d in days]


# -- the monitors ---------------------------------------------------------------------------------------


def judged_day(con: Any, view: str, reference: datetime) -> date | None:
    """The newest day of collected tweets, never after the reference time's day."""
    row = con.execute(
        f"select max(created_date) from {view} where seen_in = 'data' and created_date <= ?",
        [reference.date()],
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def _elapsed_share(day: date, reference: datetime) -> float:
    """The share of ``day`` that had passed at the reference time (1 for a day over)."""
    start = datetime.combine(day, time(), UTC)
    share = max((reference - start).total_seconds() / 86400, 1 / 24)
    return 1.0 if share >= 0.99 else share  # fetched in the day's last quarter hour: the day is over


def volume(con: Any, view: str, day: date, reference: datetime, opts: MonitorOptions) -> list[Monitor]:
    first = day - timedelta(days=opts.days)
    rows = con.execute(
        f"select {STREAM_KEY}, created_date, count(*) from {view} where seen_in = 'data' "
        "and created_date between ? and ? group by all",
        [first, day],
    ).fetchall()
    starts = dict(
        con.execute(
            f"select {STREAM_KEY}, min(created_date) from {view} where seen_in = 'data' group by all"
        ).fetchall()
    )
    per: dict[str, dict[date, float]] = {}
    for stream, d, n in rows:
        per.setdefault(stream, {})[d] = float(n)
    share = _elapsed_share(day, reference)
    out = []
    for stream in sorted(starts):
        counts = per.get(stream, {})
        base_days = [
            first + timedelta(days=i) for i in range(opts.days) if first + timedelta(days=i) >= starts[stream]
        ]
        value = counts.get(day, 0.0)
        baseline = _series(base_days, counts)
        if len(base_days) < MIN_BASELINE_DAYS:
            out.append(_no_baseline("volume", stream, day, value, baseline, len(base_days), "tweets"))
            continue
        med, lo, hi = band(
            [b["value"] for b in baseline],
            opts.k,
            max(0.2 * statistics.median([b["value"] for b in baseline]), 3.0),
        )
        lower, upper, expected = max(0.0, lo) * share, hi * share, med * share
        status = _status(value, lower, upper)
        change = f"{(value / expected - 1):+.0%} against" if expected else "against"
        message = (
            f"{stream}: {value:,.0f} tweets on {day} ({change} the expected {expected:,.0f}; band "
            f"{lower:,.0f}-{upper:,.0f} from {len(base_days)} days"
            + (f", prorated to {share:.0%} of the day" if share < 1 else "")
            + ")"
        )
        drop, spike = opts.fail.get("volume_drop"), opts.fail.get("volume_spike")
        if (
            status == "warning"
            and expected
            and (
                (drop is not None and value < (1 - drop) * expected)
                or (spike is not None and value > spike * expected)
            )
        ):
            status = "failed"
        out.append(
            Monitor(
                "volume", stream, day.isoformat(), value, lower, upper, status, message, baseline, "tweets"
            )
        )
    return out


def freshness(
    con: Any, view: str, day: date, reference: datetime, max_age_hours: float, opts: MonitorOptions
) -> list[Monitor]:
    rows = con.execute(
        f"select {STREAM_KEY}, max(created_at) from {view} where seen_in = 'data' group by all order by 1"
    ).fetchall()
    limit = opts.fail.get("freshness_hours")
    out = []
    for stream, newest in rows:
        newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = max(0.0, (reference - newest).total_seconds() / 3600)
        status = _status(age, None, max_age_hours)
        if status == "warning" and limit is not None and age > limit:
            status = "failed"
        message = (
            f"{stream}: newest tweet {newest:%Y-%m-%d %H:%M} UTC, {age:.1f} h before the "
            "reference time "
            f"(warns past {max_age_hours:g} h)"
        )
        out.append(
            Monitor(
                "freshness",
                stream,
                day.isoformat(),
                round(age, 2),
                None,
                max_age_hours,
                status,
                message,
                unit="hours",
            )
        )
    return out


def _daily_rates(con: Any, view: str, first: date, day: date) -> dict[str, dict[date, float]]:
    nulls = ", ".join(f"count(*) - count({c}) as null_{c}" for c in NULL_COLUMNS)
    distinct = ", ".join(f"count(distinct {c}) as distinct_{c}" for c in DISTINCT_COLUMNS)
    rel = con.execute(
        f"select created_date, count(*) as n, {nulls}, {distinct} from {view} "
        "where seen_in = 'data' and created_date between ? and ? group by all",
        [first, day],
    )
    names = [d[0] for d in rel.description]
    rates: dict[str, dict[date, float]] = {}
    for row in rel.fetchall():
        rec = dict(zip(names, row, strict=True))
        for name in names[2:]:
            rates.setdefault(name, {})[rec["created_date"]] = rec[name] / rec["n"] if rec["n"] else 0.0
    dup = con.execute(
        "select d, sum(c) filter (where c > 1) / sum(c) from "
        "(select created_date as d, text_clean, count(*) as c "
        f"from {view} where seen_in = 'data' and tweet_type <> 'retweet' and created_date between ? and ? "
        "group by all) group by d",
        [first, day],
    ).fetchall()
    rates["duplicate_text"] = {d: float(share or 0.0) for d, share in dup}
    return rates


def rates(con: Any, view: str, day: date, opts: MonitorOptions) -> list[Monitor]:
    first = day - timedelta(days=opts.days)
    daily = _daily_rates(con, view, first, day)
    out = []
    for name, per in sorted(daily.items()):
        kind, _, column = name.partition("_")
        monitor = "duplicate_text" if name == "duplicate_text" else f"{kind}_rate"
        key = "text_clean" if name == "duplicate_text" else column
        base_days = [d for d in sorted(per) if d < day]
        baseline = _series(base_days, per)
        if day not in per:
            continue
        value = round(per[day], 4)
        if len(base_days) < MIN_BASELINE_DAYS:
            out.append(_no_baseline(monitor, key, day, value, baseline, len(base_days), "share"))
            continue
        med, lo, hi = band([b["value"] for b in baseline], opts.k, 0.05)
        lower, upper = max(0.0, lo), min(1.0, hi)
        status = _status(value, lower, upper)
        limit = opts.fail.get(monitor)
        if status == "warning" and limit is not None and abs(value - med) > limit:
            status = "failed"
        what = {"null": "null", "distinct": "distinct", "duplicate": "duplicated"}[kind]
        message = (
            f"{key}: {value:.1%} {what} on {day} (baseline median {med:.1%}, band {lower:.1%}-{upper:.1%} "
            f"from {len(base_days)} days)"
        )
        out.append(
            Monitor(monitor, key, day.isoformat(), value, lower, upper, status, message, baseline, "share")
        )
    return out


def _distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Total variation distance between two distributions given as counts."""
    ta, tb = sum(a.values()) or 1.0, sum(b.values()) or 1.0
    return 0.5 * sum(abs(a.get(k, 0.0) / ta - b.get(k, 0.0) / tb) for k in set(a) | set(b))


def language_mix(con: Any, view: str, day: date, opts: MonitorOptions) -> list[Monitor]:
    first = day - timedelta(days=opts.days)
    rows = con.execute(
        f"select created_date, coalesce(lang, '(none)'), count(*) from {view} where seen_in = 'data' "
        "and created_date between ? and ? group by all",
        [first, day],
    ).fetchall()
    per: dict[date, dict[str, float]] = {}
    for d, lang, n in rows:
        per.setdefault(d, {})[lang] = float(n)
    if day not in per:
        return []
    base_days = [d for d in sorted(per) if d < day]
    pooled: dict[str, float] = {}
    for d in base_days:
        for lang, n in per[d].items():
            pooled[lang] = pooled.get(lang, 0.0) + n
    value = round(_distance(per[day], pooled), 4)
    # each baseline day against the pool of the others: how far a usual day is
    distances = [round(_distance(per[d], _without(pooled, per[d])), 4) for d in base_days]
    usual = [{"day": d.isoformat(), "value": v} for d, v in zip(base_days, distances, strict=True)]
    if len(base_days) < MIN_BASELINE_DAYS:
        return [_no_baseline("language_mix", "lang", day, value, usual, len(base_days), "distance")]
    _, _, hi = band(distances, opts.k, 0.1)
    status = _status(value, None, hi)
    limit = opts.fail.get("language_mix")
    if status == "warning" and limit is not None and value > limit:
        status = "failed"
    top = sorted(per[day].items(), key=lambda kv: -kv[1])[:3]
    total = sum(per[day].values())
    shares = ", ".join(f"{lang} {n / total:.0%}" for lang, n in top)
    message = (
        f"languages on {day}: {shares}; distance {value:.2f} from the baseline's mix (warns past {hi:.2f})"
    )
    return [
        Monitor("language_mix", "lang", day.isoformat(), value, None, hi, status, message, usual, "distance")
    ]


def _without(pool: dict[str, float], day: dict[str, float]) -> dict[str, float]:
    return {k: v - day.get(k, 0.0) for k, v in pool.items()}


def rejected(con: Any, view: str | None, day: date, opts: MonitorOptions) -> list[Monitor]:
    """Bronze lines set aside per ingest date: the newest date against the dates before."""
    if view is None:
        return []
    rows = con.execute(
        f"select cast(regexp_extract(bronze_file, 'ingest_date=([0-9-]+)', 1) as date) as d, count(*) "
        f"from {view} group by all"
    ).fetchall()
    per = {d: float(n) for d, n in rows if d is not None}
    newest = max([*per, day])
    first = newest - timedelta(days=opts.days)
    base_days = [first + timedelta(days=i) for i in range(opts.days)]
    value = per.get(newest, 0.0)
    baseline = _series(base_days, per)
    _, _, hi = band([b["value"] for b in baseline], opts.k, 0.0)
    status = _status(value, None, hi)
    limit = opts.fail.get("rejected_lines")
    if status == "warning" and limit is not None and value > limit:
        status = "failed"
    message = (
        f"{value:,.0f} bronze line(s) set aside for ingest date {newest} (usual up to {hi:,.0f}); "
        "see silver.rejected_pages"
    )
    return [
        Monitor(
            "rejected_lines",
            "bronze",
            newest.isoformat(),
            value,
            None,
            hi,
            status,
            message,
            baseline,
            "lines",
        )
    ]


def _count_windows(
    con: Any, tweets: str, counts: str, day: date, reference: datetime, opts: MonitorOptions
) -> list[tuple[Any, ...]]:
    """``(query, window_start, window_end, count, collected)`` of every complete window from the baseline's
    first day to the end of the judged day: a whole bucket (its granularity long), counted once it was over
    (fetched in its last 1%, as a day's last quarter hour), over by the reference time, and not before the
    query's first collected tweet's window (the lake had not started on it)."""
    length = "case granularity " + " ".join(f"when '{g}' then {i}" for g, i in WINDOW_LENGTH.items()) + " end"
    endpoints = ", ".join(f"'{e}'" for e in COUNTED_ENDPOINTS)
    first = datetime.combine(day - timedelta(days=opts.days), time(), UTC)
    last = datetime.combine(day + timedelta(days=1), time(), UTC)
    return list(
        con.execute(
            f"""
            with collected as (
                select stream, created_at from {tweets}
                where seen_in = 'data' and endpoint in ({endpoints}) and created_at >= ? and created_at < ?
            ),
            began as (
                select stream, min(created_at) as first_at from {tweets}
                where seen_in = 'data' and endpoint in ({endpoints}) group by all
            ),
            windows as (
                select c.query, c.window_start, c.window_end, c.tweet_count
                from {counts} as c
                inner join began on began.stream = c.query
                where c.window_start >= ? and c.window_end <= ?
                  and c.window_end - c.window_start = {length}
                  and c.fetched_at >= c.window_end - ({length}) / 100
                  and c.window_end - ({length}) / 100 <= ?
                  and c.window_start >= date_trunc(c.granularity, began.first_at)
            )
            select w.query, w.window_start, w.window_end, w.tweet_count, count(t.created_at)
            from windows as w
            left join collected as t
              on t.stream = w.query and t.created_at >= w.window_start and t.created_at < w.window_end
            group by all
            order by 1, 2
            """,
            [first, last, first, last, reference],
        ).fetchall()
    )


def counts_gap(
    con: Any, tweets: str, counts: str | None, day: date, reference: datetime, opts: MonitorOptions
) -> list[Monitor]:
    """Per query: collected tweets against the counts endpoint's count, window by window
    (silver.tweet_counts); the value is the worst window's shortfall, out of band past the tolerance."""
    if counts is None:
        return []
    per: dict[str, list[tuple[Any, ...]]] = {}
    for query, start, end, count, got in _count_windows(con, tweets, counts, day, reference, opts):
        per.setdefault(query, []).append((start, end, int(count), int(got)))
    tolerance, limit = opts.counts_tolerance, opts.fail.get("counts_gap")
    out = []
    for query, windows in sorted(per.items()):
        shortfalls = [(max(0.0, (n - got) / n) if n else 0.0, s, e, n, got) for s, e, n, got in windows]
        series = [{"day": s.isoformat(), "value": round(share, 4)} for share, s, _, _, _ in shortfalls]
        worst = max(shortfalls, key=lambda w: w[0])
        share, start, end, count, got = worst
        short = [w for w in shortfalls if w[0] > tolerance]
        status = _status(share, None, tolerance)
        if status == "warning" and limit is not None and share > limit:
            status = "failed"
        where = f"{start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC"
        message = (
            f"{query}: {len(short)} of {len(windows)} counted window(s) short by more than {tolerance:.0%}; "
            f"the worst, {where}: {got:,} tweets collected of the {count:,} the counts endpoint counted "
            f"({share:.0%} short). Re-ingest that window (tweetlake backfill, or ingest --start-time and "
            "--end-time)"
            if short
            else f"{query}: {len(windows)} counted window(s), each within {tolerance:.0%} of its count "
            f"(the worst {share:.1%} short, {where})"
        )
        out.append(
            Monitor(
                "counts_gap",
                query,
                day.isoformat(),
                round(share, 4),
                None,
                tolerance,
                status,
                message,
                series,
                "share",
            )
        )
    return out


def _no_baseline(
    name: str, key: str, day: date, value: float, baseline: list[dict[str, Any]], n: int, unit: str
) -> Monitor:
    message = f"{key}: {value:,.4g} on {day}; {n} baseline day(s), {MIN_BASELINE_DAYS} needed to judge"
    return Monitor(name, key, day.isoformat(), value, None, None, "no baseline", message, baseline, unit)


# -- schema drift in bronze -----------------------------------------------------------------------------


def _top_level_names(struct_fields: str) -> set[str]:
    """The field names at depth 0 of a DuckDB struct field list (``a varchar, b struct(...), ...``)."""
    names, depth, start = set(), 0, 0
    for i, ch in enumerate(struct_fields + ","):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            part = struct_fields[start:i].strip()
            if part:
                names.add(part.split()[0].strip('"'))
            start = i + 1
    return names


@lru_cache(maxsize=1)
def declared() -> dict[str, frozenset[str]]:
    """The fields the build reads of a tweet and of a user (the bronze source's declared schema)."""
    doc = yaml.safe_load(SOURCES_YML.read_text())
    meta = next(s for s in doc["sources"] if s["name"] == "bronze")["meta"]
    user = re.fullmatch(r"\s*struct\((.*)\)\s*", meta["user"], re.S)
    assert user, "the bronze source's user type is a struct"
    return {
        "tweets": frozenset(_top_level_names(meta["tweet_fields"]) | {"referenced_tweets"}),
        "users": frozenset(_top_level_names(user.group(1))),
    }


@lru_cache(maxsize=1)
def asked() -> dict[str, frozenset[str]]:
    """The fields the API source asks for: declared too, kept in bronze where silver does not read them."""
    return {"tweets": frozenset(TWEET_FIELDS.split(",")), "users": frozenset(USER_FIELDS.split(","))}


def _newest_bronze(lake: Lake) -> list[str]:
    """The newest bronze file of each stream (its newest ingest date, the last object of that day)."""
    newest: dict[str, str] = {}
    for rel in lake.glob(f"{BRONZE}/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl"):
        if is_counts_file("/" + rel):  # buckets, not tweets: the counts read declares its own fields
            continue
        stream = rel.split("/ingest_date=")[0]
        newest[stream] = max(newest.get(stream, ""), rel)  # ingest_date=YYYY-MM-DD sorts by date
    return sorted(newest.values(), reverse=True)[:SAMPLE_FILES]


def _head_lines(lake: Lake, rel: str) -> list[bytes]:
    """The whole lines in the first SAMPLE_BYTES of a bronze file (none if it is gone)."""
    try:
        with lake.fs.open(lake._strip(lake.url(rel)), "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except FileNotFoundError:  # replaced while read: the next run reads its successor
        return []
    lines = head.split(b"\n")
    return lines[:-1] if len(head) == SAMPLE_BYTES else lines  # the last one cut by the limit


def field_presence(lake: Lake, files: list[str]) -> dict[str, dict[str, float]]:
    """Per kind (tweets, users): each field's share of the objects of the sampled bronze lines."""
    counts: dict[str, dict[str, int]] = {"tweets": {}, "users": {}}
    totals = {"tweets": 0, "users": 0}

    def seen(kind: str, obj: Any) -> None:
        if isinstance(obj, dict):
            totals[kind] += 1
            for name in obj:
                counts[kind][name] = counts[kind].get(name, 0) + 1

    for raw in (line for rel in files for line in _head_lines(lake, rel) if line.strip()):
        try:
            response = json.loads(raw).get("response") or {}
        except (ValueError, AttributeError):
            continue  # a rejected line: the rejected_lines monitor counts it
        data = response.get("data")
        tweets = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        if data is None and "id" in response and "text" in response:  # twarc2 flatten
            tweets = [{k: v for k, v in response.items() if k not in FLATTEN_EXTRAS}]
            seen("users", response.get("author"))
        includes = response.get("includes") or {}
        for t in [*tweets, *(includes.get("tweets") or [])]:
            seen("tweets", t)
        for u in includes.get("users") or []:
            seen("users", u)
    return {k: {f: c / totals[k] for f, c in counts[k].items()} for k in counts if totals[k]}


def schema_drift(
    lake: Lake, day: date, previous: dict[str, dict[str, float]], opts: MonitorOptions
) -> tuple[list[Monitor], dict[str, dict[str, float]]]:
    """Fields new to the declared schema, and declared fields the previous run saw that are gone."""
    presence = field_presence(lake, _newest_bronze(lake))
    out = []
    for kind, fields in sorted(declared().items()):
        now = presence.get(kind)
        if now is None:
            continue
        new = sorted(set(now) - fields - asked()[kind] - FLATTEN_EXTRAS)
        before = previous.get(kind, {})
        gone = sorted(f for f in fields if before.get(f, 0.0) >= 0.5 and f not in now)
        value = float(len(new) + len(gone))
        status = _status(value, None, 0.0)
        limit = opts.fail.get("schema_drift")
        if status == "warning" and limit is not None and value >= limit:
            status = "failed"
        said = []
        if new:
            said.append("new (not read into silver): " + ", ".join(f"{f} ({now[f]:.0%})" for f in new))
        if gone:
            said.append("gone (the previous run saw them): " + ", ".join(gone))
        message = f"{kind} in the newest bronze files: " + ("; ".join(said) if said else "as declared")
        out.append(
            Monitor("schema_drift", kind, day.isoformat(), value, None, 0.0, status, message, unit="fields")
        )
    return out, presence


# -- a run's monitors -----------------------------------------------------------------------------------


def run_monitors(
    lake: Lake,
    con: Any,
    views: dict[str, str],
    reference: datetime,
    max_age_hours: float,
    previous: dict[str, Any] | None = None,
    opts: MonitorOptions | None = None,
) -> tuple[list[Monitor], dict[str, Any]]:
    """Every monitor of a run, and what the next run compares with (the bronze fields seen).

    ``views`` maps table names (``silver.tweets``) to the DuckDB views of ``con`` that read them."""
    opts = opts or MonitorOptions.from_env()
    tweets = views.get("silver.tweets")
    if tweets is None:
        return [], {}
    day = judged_day(con, tweets, reference)
    if day is None:
        return [], {}
    found = [
        *volume(con, tweets, day, reference, opts),
        *freshness(con, tweets, day, reference, max_age_hours, opts),
        *rates(con, tweets, day, opts),
        *language_mix(con, tweets, day, opts),
        *rejected(con, views.get("silver.rejected_pages"), day, opts),
        *counts_gap(con, tweets, views.get("silver.tweet_counts"), day, reference, opts),
    ]
    drift, presence = schema_drift(lake, day, (previous or {}).get("bronze_fields", {}), opts)
    found.extend(drift)
    for m in found:
        if m.status in ("warning", "failed"):
            log.warning("monitor %s %s: %s", m.name, m.status, m.message)
    return found, {"bronze_fields": presence}


def failures(monitors: list[Monitor]) -> list[Failure]:
    """The monitors past a threshold the user set, as gate failures."""
    return [
        Failure(
            suite=f"monitor.{m.name}",
            expectation=f"{m.name} within TWEETLAKE_MONITOR_FAIL",
            column=m.key,
            unexpected_count=None,
            examples=[],
            observed=m.value,
            description=m.message,
            hint="a threshold in TWEETLAKE_MONITOR_FAIL; the quality index charts the band over days",
        )
        for m in monitors
        if m.status == "failed"
    ]
