"""Time, the one way: UTC everywhere, the API's ``...Z`` text format, one parser for ISO 8601 input."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat_z(ts: datetime) -> str:
    """``2026-11-21T04:30:00.123Z``: the API's own timestamp format."""
    last_ts, last_text = _last_isoformat[0]
    if last_ts is ts:  # the same (immutable) datetime again, as for every page of a pull
        return last_text
    text = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    _last_isoformat[0] = (ts, text)
    return text


_last_isoformat: list[tuple[datetime | None, str]] = [(None, "")]


def parse_utc(value: str | date | datetime) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC), a date (its midnight) or ``now``, as UTC.

    Raises ``ValueError`` naming the value when it is none of these; callers add where it came from.
    """
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, date):
        ts = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.lower() == "now":
            return utcnow()
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-11-20T00:00:00Z") from None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
