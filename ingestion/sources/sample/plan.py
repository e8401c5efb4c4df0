"""What the sample source generates: streams, days, how many tweets each stream-day holds, ids, tokens.

Nothing here renders a byte: the plan is arithmetic on the arguments, so the driver process (progress
totals, pull order, requests) and the workers (which render) agree on it without talking.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from foundation.settings import DEFAULT_ACCOUNTS, DEFAULT_QUERIES
from foundation.times import isoformat_z, utcnow
from ingestion.pages import TWITTER_EPOCH_MS

ENDPOINT = "search_recent"  # the one endpoint paginated with next_token; the timelines use pagination_token
STREAM = "search_stream"  # the filtered stream: one message (a tweet, matching_rules) a page
LOOKUP = "tweets_lookup"  # GET /2/tweets/:id: one tweet a page
SINGLE = (STREAM, LOOKUP)  # endpoints whose pages hold one tweet (``data`` an object), never paginated
REOBSERVE_EVERY = 33
# a tweet a page costs a bronze line (envelope, includes) per tweet: the single shapes get a small share
WEIGHTS = {"search_recent": 100, "user_mentions": 30, "user_tweets": 10, STREAM: 2, LOOKUP: 1}
DAY_MS = 86_400_000
USER_ID_BASE = 10_000_000
MAX_STREAMS = 4095  # the stream index takes 12 bits of a tweet id
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


def mix(*parts: object) -> int:
    """A 64-bit integer that is a deterministic function of ``parts`` (unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def snowflake(ms: int, stream_index: int, index: int) -> int:
    """A tweet id: its time (ms since the Twitter epoch), then the stream and the tweet's index in its
    stream-day (low 10 bits): unique across streams, increasing with time like the real ones."""
    return ((ms - TWITTER_EPOCH_MS) << 22) | (stream_index << 10) | (index & 0x3FF)


def token_key(endpoint: str) -> str:
    return "next_token" if endpoint == ENDPOINT else "pagination_token"


@dataclass(frozen=True)
class Stream:
    index: int
    endpoint: str
    stream: str
    account_uid: int = -1  # the tracked account of a timeline/mentions stream


@dataclass
class Plan:
    """``tweets`` new tweets over ``days`` days ending on ``end_date``, across queries and accounts.

    Streams: every query (``search_recent``) and, for every account, its timeline (``user_tweets``) and its
    mentions (``user_mentions``); with ``single_shapes`` (the default) also a filtered stream capture
    (``search_stream``, a rule per first query) and single-tweet lookups (``tweets_lookup``, for the first
    account), whose pages hold one tweet each (``data`` an object) and end, some days, in a message with
    only ``errors``. Tweets are shared out over the streams (search 100 : mentions 30 : timeline 10 :
    stream 2 : lookups 1) and spread evenly over the days; every 33rd tweet of a day of a paginated stream is
    seen again the next day.
    """

    tweets: int = 3000
    days: int = 3
    # the last complete day (UTC): a page of today would be stamped after now
    end_date: date = field(default_factory=lambda: utcnow().date() - timedelta(days=1))
    seed: int = 42
    queries: tuple[str, ...] = DEFAULT_QUERIES
    accounts: tuple[str, ...] = DEFAULT_ACCOUNTS
    page_size: int = 100
    users: int | None = None
    single_shapes: bool = True
    # A drill for the monitors: the first query's last day keeps only (1 - drill_drop) of its tweets, as an
    # API that quietly returned fewer would (the volume monitor flags it); ``tweets`` is then the total less
    # the tweets cut.
    drill_drop: float = 0.0
    # land what the counts endpoint would say of each query (endpoint=counts_recent, a day a bucket): the
    # tweets the plan creates each day, before any drill cut (the API counts what it holds)
    counts: bool = True

    def __post_init__(self) -> None:
        self.queries = tuple(self.queries)
        self.accounts = tuple(a.lstrip("@") for a in self.accounts)
        self._check()
        streams = [Stream(i, ENDPOINT, q) for i, q in enumerate(self.queries)]
        for a, account in enumerate(self.accounts):
            for endpoint in ("user_tweets", "user_mentions"):
                streams.append(Stream(len(streams), endpoint, account, a))
        if self.single_shapes and self.queries:
            streams.append(Stream(len(streams), STREAM, self.queries[0]))
        if self.single_shapes and self.accounts:
            streams.append(Stream(len(streams), LOOKUP, self.accounts[0], 0))
        if len(streams) > MAX_STREAMS:
            raise ValueError(f"at most {MAX_STREAMS} streams (queries + 2 per account)")
        self.streams = streams
        self.user_count = self.users or max(20, min(200_000, self.tweets // 25))
        self.user_count = max(self.user_count, len(self.accounts) + 10)
        self.stream_totals = self._share_out([WEIGHTS[s.endpoint] for s in streams])
        if max(self.stream_totals, default=0) // self.days >= DAY_MS:
            raise ValueError("too many tweets per stream and day (at most one per millisecond)")

    def _check(self) -> None:
        bad = [a for a in self.accounts if not USERNAME.fullmatch(a)]
        if bad:
            raise ValueError(f"not Twitter usernames (1-15 letters, digits, _): {', '.join(map(repr, bad))}")
        if self.tweets < 0 or self.days < 1 or not (self.queries or self.accounts):
            raise ValueError("sample source needs tweets >= 0, days >= 1 and at least one query or account")
        if not 0.0 <= self.drill_drop < 1.0:
            raise ValueError("drill_drop is the share of a day's tweets cut: at least 0, below 1")
        if not 10 <= self.page_size <= 100:
            raise ValueError("page_size must be between 10 and 100, as the API's max_results")

    def _share_out(self, weights: list[int]) -> list[int]:
        """``tweets`` split in proportion to ``weights``, exactly (cumulative bounds, no rounding drift)."""
        total_w = sum(weights)
        bounds, acc = [0], 0
        for w in weights:
            acc += w
            bounds.append(self.tweets * acc // total_w)
        return [bounds[i + 1] - bounds[i] for i in range(len(weights))]

    def day_dates(self) -> list[date]:
        return [self.end_date - timedelta(days=self.days - 1 - i) for i in range(self.days)]

    def per_stream_day(self, day_index: int, stream_index: int) -> int:
        """New tweets created in stream ``stream_index`` on day ``day_index``."""
        count = self.counted(day_index, stream_index)
        if self.drill_drop and stream_index == 0 and day_index == self.days - 1:
            return round(count * (1 - self.drill_drop))
        return count

    def counted(self, day_index: int, stream_index: int) -> int:
        """What the counts endpoint says of a stream-day: its tweets before the drill cut any."""
        base, extra = divmod(self.stream_totals[stream_index], self.days)
        return base + (1 if day_index < extra else 0)

    def reobserved(self, day_index: int, stream_index: int) -> int:
        """How many of the previous day's tweets are seen again on day ``day_index``."""
        if day_index == 0 or self.streams[stream_index].endpoint in SINGLE:
            return 0
        return -(-self.per_stream_day(day_index - 1, stream_index) // REOBSERVE_EVERY)

    def page_count(self, day_index: int, stream_index: int) -> int:
        """Pages of a stream-day, including the occasional trailing empty one."""
        items = self.per_stream_day(day_index, stream_index) + self.reobserved(day_index, stream_index)
        if self.streams[stream_index].endpoint in SINGLE:  # a tweet a page; the last, some days: errors
            return items + (1 if self._trailing_errors(day_index, stream_index) else 0)
        if items == 0:
            return 1
        pages = -(-items // self.page_size)
        return pages + (1 if self._trailing_empty(day_index, stream_index) else 0)

    def _trailing_empty(self, day_index: int, stream_index: int) -> bool:
        return mix(self.seed, "trailing-empty", stream_index, day_index) % 100 < 10

    def _trailing_errors(self, day_index: int, stream_index: int) -> bool:
        return mix(self.seed, "trailing-errors", stream_index, day_index) % 100 < 40

    @property
    def expected_tweets(self) -> int:
        """Tweets in all pages (new tweets plus those seen again): the total for a progress bar."""
        return sum(
            self.per_stream_day(d, s) + self.reobserved(d, s)
            for d in range(self.days)
            for s in range(len(self.streams))
        )

    def token(self, day_index: int, stream_index: int, page_no: int) -> str:
        """The pagination token that asks for page ``page_no`` (1-based after the first)."""
        h = mix(self.seed, "token", stream_index, day_index, page_no)
        if self.streams[stream_index].endpoint == ENDPOINT:
            return f"b26v89c19zqg8o3f{h:016x}"
        return f"7140dibdnow9c7btw3w29{h:016x}"

    def request(self, day_index: int, stream_index: int, page_no: int) -> dict[str, Any]:
        """The request parameters a page answers (in the envelope)."""
        s = self.streams[stream_index]
        day = self.day_dates()[day_index]
        start = datetime.combine(day, time(), UTC)
        req: dict[str, Any]
        if s.endpoint in (ENDPOINT, STREAM):
            req = {"query": s.stream} if s.endpoint == ENDPOINT else {"rule": s.stream}
        else:
            req = {"user_id": str(USER_ID_BASE + s.account_uid), "username": s.stream}
        if s.endpoint not in SINGLE:
            req["max_results"] = self.page_size
        req.update(start_time=isoformat_z(start), end_time=isoformat_z(start + timedelta(days=1)))
        if page_no and s.endpoint not in SINGLE:
            req[token_key(s.endpoint)] = self.token(day_index, stream_index, page_no)
        return req
