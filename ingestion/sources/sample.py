"""A deterministic, seeded generator of realistic API v2 pages, for demos, tests and benchmarks.

The same arguments give the same pages, byte for byte, at any size and with any number of worker
processes. Memory stays bounded: pages are generated one at a time (a page is a pure function of
``(seed, stream, day, page number)``), never from a list of all tweets.

Streams: every query (``search_recent``, paginated with ``next_token``) and, for every account, its
timeline (``user_tweets``) and its mentions (``user_mentions``), paginated with ``pagination_token``.
``tweets`` new tweets are shared out over the streams (search 10 : mentions 3 : timeline 1) and spread
evenly over ``days`` days ending on ``end_date``; one pull per stream and day.

What it produces, like the real API:

- snowflake ids (strings) increasing with ``created_at``; within a stream-day, items newest first;
- HTML-escaped text (``&amp;``, ``&lt;``, ``&gt;``) with emoji; hashtags, mentions and URLs with
  ``entities`` whose ``start``/``end`` count code points in the text *as returned* (escaped), ``end``
  exclusive, as the v2 data dictionary defines them;
- replies, quotes and retweets in ``referenced_tweets``, quoted/retweeted tweets in ``includes.tweets``,
  authors and mentioned users in ``includes.users``;
- every 33rd tweet of a day is seen again the next day (same id, text and author; metrics grown);
- optional fields sometimes missing; partial ``errors`` (a retweet of a deleted tweet); empty pages
  (``meta.result_count: 0``: a stream-day without tweets, or a trailing page after the last token).

Speed: each page draws from one RNG seeded for that page; only tweets that are seen again (every 33rd)
get an RNG of their own so their second sighting can be rebuilt. JSON is assembled from string pieces
(users are cached fragments) rather than ``json.dumps`` of dicts. Large runs render pages in worker
processes (``workers``), in order, with a bounded number of pages in flight.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import os
import pickle
import queue
import random
import re
import subprocess
import sys
import threading
import time as time_
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from foundation.settings import DEFAULT_ACCOUNTS, DEFAULT_QUERIES
from foundation.times import isoformat_z
from ingestion.pages import TWITTER_EPOCH_MS, Page, stream_key
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

ENDPOINT = "search_recent"
REOBSERVE_EVERY = 33
WEIGHTS = {"search_recent": 10, "user_mentions": 3, "user_tweets": 1}
DAY_MS = 86_400_000
USER_ID_BASE = 10_000_000
USERS_SINCE = 1_230_768_000  # 2009-01-01: accounts were created since then
USERS_SPAN = 16 * 365 * 86400
MASK64 = (1 << 64) - 1
# users whose JSON is kept ready (bytes, ~0.6 kB each), per process: bounds memory. As many as the default
# user count holds at most (200k, from 5M tweets on). With 50k, runs over 200k users re-render most of them
# (measured, 1M tweets over 200k users: 94k tweets/s with 50k, 130k/s with 200k, ~110 MB more per worker;
# a 10M run made 74k/s with 50k).
USER_CACHE = 200_000
PARALLEL_THRESHOLD = 300_000
CHUNK_PAGES = 8
PIPE_BUFFER = 1 << 20
QUEUE_PAGES = 256  # rendered pages waiting for the consumer (~30 MB): rides out a bronze object write

WORDS = (
    "data",
    "lake",
    "pipeline",
    "query",
    "fast",
    "today",
    "shipped",
    "release",
    "parquet",
    "model",
    "metrics",
    "latency",
    "team",
    "great",
    "new",
    "build",
    "streaming",
    "warehouse",
    "open",
    "source",
    "community",
    "love",
    "thread",
    "docs",
    "learning",
    "python",
    "sql",
    "cloud",
    "cost",
    "storage",
    "schema",
    "test",
    "quality",
    "dashboard",
    "incident",
    "weekend",
    "coffee",
    "benchmark",
)
NW = len(WORDS)
HASHTAGS = ("dataengineering", "duckdb", "dbt", "python", "opensource", "analytics", "sql", "ai", "bigdata")
EMOJI = ("🚀", "🔥", "✨", "📊", "🦆", "😅", "👍", "💡", "🎉", "😡", "😢")
MOODS = ("Loving", "Really enjoying", "Frustrated with", "Not sure about", "Hate", "Excited for", "Trying")
# Already HTML-escaped, as the API returns text.
TAILS = ("&amp; more", "&lt;3", "-&gt; shipped", "w/ the team", "", "", "Q&amp;A soon", "1 &lt; 2")
LANGS = ("en", "en", "en", "en", "es", "de", "fr", "ja", "und")
PAIRS = tuple(f"{a} {b}" for a in WORDS for b in WORDS)
NP = len(PAIRS)
PHRASES = 4096


@functools.cache
def _phrases(count: int = PHRASES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Text halves, fixed for every seed: a tweet's text is an opener and a closer (16M combinations)
    drawn with two random numbers instead of a dozen. Made on first use (only renderers need them)."""
    rng = random.Random(20261120)
    openers = tuple(
        " ".join([rng.choice(MOODS), *(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))])
        for _ in range(count)
    )
    closers = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(0, 7))]
        closers.append(" ".join(p for p in (*words, rng.choice(TAILS), rng.choice(EMOJI)) if p))
    return openers, tuple(closers)


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Ready-made pieces: hashtag texts with their entity tails, lang members.
TAG_PIECES = tuple((f" #{t}", len(t) + 1, f'"tag":"{t}"}}') for t in HASHTAGS)
LANG_PIECES = tuple(f',"lang":"{lang}"' for lang in LANGS)
NO_LIKES = '"retweet_count":0,"reply_count":0,"like_count":0,"quote_count":0,"bookmark_count":0,'
PLACES = ("Berlin", "NYC", "São Paulo", "Tokyo", "Lagos", "Remote", "Zürich", "Montréal")
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


def _escape(text: str) -> str:
    """The API returns text HTML-escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _remember(store: list, index: int, value: object, filled: int) -> int:
    """Keep ``value`` at ``index`` of a bounded cache list holding ``filled`` entries; a full cache
    (USER_CACHE entries) is emptied first. Returns the new number of entries."""
    if filled >= USER_CACHE:
        store[:] = [None] * len(store)
        filled = 0
    store[index] = value
    return filled + 1


def _hash64(x: int) -> int:
    """splitmix64's finalizer: a well-mixed 64-bit integer from any integer, fast."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def _mix(*parts: object) -> int:
    """A 64-bit integer that is a deterministic function of ``parts`` (unlike ``hash()``)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Stream:
    index: int
    endpoint: str
    stream: str
    account_uid: int = -1  # the tracked account of a timeline/mentions stream


@dataclass
class SampleSource:
    """``tweets`` new tweets over ``days`` days ending on ``end_date``, across queries and accounts.

    ``workers``: processes that render pages; None picks 0 (in-process) below ``PARALLEL_THRESHOLD``
    tweets and up to 2 above. The output is the same whatever the number.
    """

    tweets: int = 3000
    days: int = 3
    # the last complete day (UTC): a page of today would be stamped after now
    end_date: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=1))
    seed: int = 42
    queries: tuple[str, ...] = DEFAULT_QUERIES
    accounts: tuple[str, ...] = DEFAULT_ACCOUNTS
    page_size: int = 100
    users: int | None = None
    workers: int | None = None
    name: str = "sample"

    def __post_init__(self) -> None:
        self.queries = tuple(self.queries)
        self.accounts = tuple(a.lstrip("@") for a in self.accounts)
        bad = [a for a in self.accounts if not USERNAME.fullmatch(a)]
        if bad:
            raise ValueError(f"not Twitter usernames (1-15 letters, digits, _): {', '.join(map(repr, bad))}")
        if self.tweets < 0 or self.days < 1 or not (self.queries or self.accounts):
            raise ValueError("sample source needs tweets >= 0, days >= 1 and at least one query or account")
        if not 10 <= self.page_size <= 100:
            raise ValueError("page_size must be between 10 and 100, as the API's max_results")
        streams = [Stream(i, "search_recent", q) for i, q in enumerate(self.queries)]
        for a, account in enumerate(self.accounts):
            for endpoint in ("user_tweets", "user_mentions"):
                streams.append(Stream(len(streams), endpoint, account, a))
        if len(streams) >= 4096:
            raise ValueError("at most 4095 streams (queries + 2 per account)")
        self.streams = streams
        self.user_count = self.users or max(20, min(200_000, self.tweets // 25))
        self.user_count = max(self.user_count, len(self.accounts) + 10)
        weights = [WEIGHTS[s.endpoint] for s in streams]
        total_w = sum(weights)
        bounds, acc = [0], 0
        for w in weights:
            acc += w
            bounds.append(self.tweets * acc // total_w)
        self.stream_totals = [bounds[i + 1] - bounds[i] for i in range(len(streams))]
        if max(self.stream_totals, default=0) // self.days >= DAY_MS:
            raise ValueError("too many tweets per stream and day (at most one per millisecond)")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_renderer", None)
        return state

    # -- the plan -----------------------------------------------------------------------------------------
    def day_dates(self) -> list[date]:
        return [self.end_date - timedelta(days=self.days - 1 - i) for i in range(self.days)]

    def per_stream_day(self, day_index: int, stream_index: int) -> int:
        """New tweets created in stream ``stream_index`` on day ``day_index``."""
        base, extra = divmod(self.stream_totals[stream_index], self.days)
        return base + (1 if day_index < extra else 0)

    def reobserved(self, day_index: int, stream_index: int) -> int:
        """How many of the previous day's tweets are seen again on day ``day_index``."""
        if day_index == 0:
            return 0
        return -(-self.per_stream_day(day_index - 1, stream_index) // REOBSERVE_EVERY)

    def page_count(self, day_index: int, stream_index: int) -> int:
        """Pages of a stream-day, including the occasional trailing empty one."""
        items = self.per_stream_day(day_index, stream_index) + self.reobserved(day_index, stream_index)
        if items == 0:
            return 1
        pages = -(-items // self.page_size)
        return pages + (1 if self._trailing_empty(day_index, stream_index) else 0)

    def _trailing_empty(self, day_index: int, stream_index: int) -> bool:
        return _mix(self.seed, "trailing-empty", stream_index, day_index) % 100 < 10

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
        h = _mix(self.seed, "token", stream_index, day_index, page_no)
        if self.streams[stream_index].endpoint == ENDPOINT:
            return f"b26v89c19zqg8o3f{h:016x}"
        return f"7140dibdnow9c7btw3w29{h:016x}"

    def request(self, day_index: int, stream_index: int, page_no: int) -> dict[str, Any]:
        """The request parameters a page answers (in the envelope)."""
        s = self.streams[stream_index]
        day = self.day_dates()[day_index]
        start = datetime.combine(day, time(), UTC)
        req: dict[str, Any] = (
            {"query": s.stream}
            if s.endpoint == ENDPOINT
            else {"user_id": str(USER_ID_BASE + s.account_uid), "username": s.stream}
        )
        req.update(
            max_results=self.page_size,
            start_time=isoformat_z(start),
            end_time=isoformat_z(start + timedelta(days=1)),
        )
        if page_no:
            key = "next_token" if s.endpoint == ENDPOINT else "pagination_token"
            req[key] = self.token(day_index, stream_index, page_no)
        return req

    # -- the pulls ----------------------------------------------------------------------------------------
    def pulls(self, watermarks: WatermarkStore | None = None) -> Iterator[Pull]:
        workers = self.workers
        if workers is None:
            workers = min(2, os.cpu_count() or 1) if self.tweets >= PARALLEL_THRESHOLD else 0
        plan = [(di, st.index) for di in range(self.days) for st in self.streams]
        feeder = _Feeder(self, plan, workers) if workers > 0 else None
        try:
            for pi, (di, si) in enumerate(plan):
                s = self.streams[si]
                day = self.day_dates()[di]
                yield Pull(
                    endpoint=s.endpoint,
                    stream=s.stream,
                    run_key=f"sample-s{self.seed}-{day.isoformat()}",
                    ingest_date=day,
                    pages=self._pages(pi, di, si, feeder),
                )
        finally:
            if feeder is not None:
                feeder.close()

    def _pages(self, pi: int, di: int, si: int, feeder: _Feeder | None) -> Iterator[Page]:
        s = self.streams[si]
        # fetched when the day is over: every tweet of the day was created before its page was fetched
        fetched = datetime.combine(self.day_dates()[di], time(23, 59, 59, 999000), UTC)
        if feeder is not None and not feeder.busy:
            rendered: Iterator[tuple[bytes, int, int, str]] = feeder.pages(pi)
        else:  # in this process (also when pulls are read interleaved)
            rendered = (self.render_page(di, si, n) for n in range(self.page_count(di, si)))
        first = self.request(di, si, 0)  # the other pages ask the same plus a pagination token
        token_key = "next_token" if s.endpoint == ENDPOINT else "pagination_token"
        for page_no, (body, tweets, errors, newest) in enumerate(rendered):
            yield Page(
                body,
                s.endpoint,
                s.stream,
                {**first, token_key: self.token(di, si, page_no)} if page_no else first,
                fetched_at=fetched,
                tweet_count=tweets,
                error_count=errors,
                newest_id=newest,
            )

    def render_page(self, day_index: int, stream_index: int, page_no: int) -> tuple[bytes, int, int, str]:
        """One page: ``(body, tweets, partial errors, newest id)``."""
        return self._renderer_().page(day_index, stream_index, page_no)

    # -- conveniences for tests and demos -----------------------------------------------------------------
    def username(self, uid: int) -> str:
        """The username of user ``uid`` (``USER_ID_BASE + uid`` is its id); accounts come first."""
        return self._renderer_().username(uid)

    def _renderer_(self) -> _Renderer:
        renderer = self.__dict__.get("_renderer")
        if renderer is None:
            renderer = self.__dict__["_renderer"] = _Renderer(self)
        return renderer


class _Renderer:
    """Builds page bodies for one :class:`SampleSource`; holds its caches (user fragments)."""

    def __init__(self, src: SampleSource) -> None:
        self.src = src
        self.seed = src.seed
        self.uc = src.user_count
        self.n_accounts = len(src.accounts)
        days = src.day_dates()
        self.day_ms = [int(datetime.combine(d, time(), UTC).timestamp() * 1000) for d in days]
        self.minutes: dict[int, list[str]] = {}  # day -> "YYYY-MM-DDTHH:MM:" of each minute (a few days)
        self.secs = tuple(f"{s:02d}." for s in range(60))
        self.millis = tuple(f"{m:03d}Z" for m in range(1000))
        self.openers, closers = _phrases()
        # closers as UTF-8 bytes in latin-1 characters, and how many more bytes than code points they have
        self.closers = [(c.encode().decode("latin-1"), len(c.encode()) - len(c)) for c in closers]
        # caches by user id (lists: cheaper to look up than dicts), each holding at most USER_CACHE users
        self.names: list[tuple[str, int, str] | None] = [None] * self.uc
        self.frags: list[bytes | None] = [None] * self.uc
        self.cached_names = self.cached_frags = 0
        self.tweet_rng = random.Random()
        self.page_rng = random.Random()
        self.user_salt = _mix(self.seed, "users")

    # -- users --------------------------------------------------------------------------------------------
    def username(self, uid: int) -> str:
        return self.mention(uid)[0]

    def mention(self, uid: int) -> tuple[str, int, str]:
        """``(username, len("@username"), the tail of a mention entity)`` of user ``uid``, cached."""
        cached = uid < len(self.names)
        found = self.names[uid] if cached else None
        if found is None:
            if uid < self.n_accounts:
                name = self.src.accounts[uid]
            else:
                h = _hash64(self.user_salt + uid)
                name = f"{WORDS[h % NW][:5]}_{WORDS[(h >> 8) % NW][:3]}{uid}"
            found = (name, len(name) + 1, f'"username":"{name}","id":"{USER_ID_BASE + uid}"}}')
            if cached:
                self.cached_names = _remember(self.names, uid, found, self.cached_names)
        return found

    def user_json(self, uid: int) -> bytes:
        """The user object of ``includes.users`` (as JSON bytes), a pure function of the seed and ``uid``."""
        cached = uid < len(self.frags)
        frag = self.frags[uid] if cached else None
        if frag is not None:
            return frag
        username = self.mention(uid)[0]
        h = _hash64(self.user_salt + uid + 0x5851F42D4C957F2D)
        g = _hash64(h)
        created = time_.gmtime(USERS_SINCE + h % USERS_SPAN)
        account = uid < self.n_accounts
        verified = "true" if account or (h >> 32) % 100 < 5 else "false"
        followers = int(50 / (((g % 1_000_000) + 1) / 1_000_001) ** (1 / 1.2)) + (250_000 if account else 0)
        name = username.capitalize() if account else username.replace("_", " ").title()
        parts = [
            f'{{"id":"{USER_ID_BASE + uid}","name":"{name}","username":"{username}","created_at":"'
            f'{time_.strftime("%Y-%m-%dT%H:%M:%S", created)}.000Z","verified":{verified},"public_metrics":'
            f'{{"followers_count":{followers},"following_count":{(g >> 20) % 2000},"tweet_count":'
            f'{(g >> 31) % 50_000},"listed_count":{(g >> 47) % 100}}}'
        ]
        if (h >> 40) % 10 < 8:
            desc = f"{WORDS[(h >> 44) % NW]} &amp; {WORDS[(h >> 50) % NW]} {EMOJI[(g >> 54) % 11]}"
            parts.append(f',"description":"{desc}"')
        if (g >> 58) % 10 < 6:
            parts.append(f',"location":"{PLACES[(h >> 56) % 8]}"')
        parts.append("}")
        frag = "".join(parts).encode()
        if cached:
            self.cached_frags = _remember(self.frags, uid, frag, self.cached_frags)
        return frag

    # -- pages --------------------------------------------------------------------------------------------
    # The hot loop: every tweet of every page goes through it, so it is one function working on locals.
    # Bodies are built as "bytes in a str": UTF-8 bytes held as latin-1 characters (only the closers carry
    # non-ASCII: their emoji). Every piece stays one byte per character, so nothing is widened to 4 bytes a
    # character to be built, joined and encoded; ``.encode("latin-1")`` gives the UTF-8 body as it is.
    # Entity offsets count code points: a closer's extra UTF-8 bytes are subtracted from ``len(text)``.
    # Which numbers are drawn from the RNGs, and in which order, is what makes the bytes: keep both.
    def page(self, di: int, si: int, page_no: int) -> tuple[bytes, int, int, str]:
        src = self.src
        stream = src.streams[si]
        count = src.per_stream_day(di, si)
        reobs = src.reobserved(di, si)
        total = count + reobs
        size = src.page_size
        first = page_no * size
        endpoint = stream.endpoint
        prev_token = (
            f',"previous_token":"{src.token(di, si, page_no - 1)}"'
            if endpoint != ENDPOINT and page_no
            else ""
        )
        if first >= total:  # a stream-day without tweets, or the trailing empty page
            return f'{{"meta":{{"result_count":0{prev_token}}}}}'.encode(), 0, 0, ""
        last = min(total, first + size)
        prev_count = src.per_stream_day(di - 1, si) if di else 0
        seed = self.seed
        page_rng = self.page_rng
        page_rng.seed(_mix(seed, "page", si, di, page_no))
        page_random = page_rng.random
        seed_tweet_rng = super(random.Random, self.tweet_rng).seed  # as Random.seed for an int, minus a layer
        tweet_random = self.tweet_rng.random
        na = self.n_accounts
        span = self.uc - na
        sbits = stream.index << 10
        # the author: the account on its own timeline, else a user (a few post a lot)
        own = stream.account_uid if endpoint == "user_tweets" else -1
        mentioned_account = stream.account_uid if endpoint == "user_mentions" else -1
        names = self.names
        mention = self.mention
        iso = self.iso
        openers, closers = self.openers, self.closers
        day_ms = self.day_ms
        secs, millis = self.secs, self.millis
        created_minutes = {cdi: self.day_minutes(day_ms[cdi] // DAY_MS) for cdi in {di, max(di - 1, 0)}}
        data: list[str] = []
        inc: list[str] = []
        errs: list[str] = []
        users: dict[int, None] = {}
        ids: list[int] = []
        for pos in range(first, last):
            if pos < count:  # today's tweets, newest first
                cdi, index, ccount = di, count - 1 - pos, count
            else:  # yesterday's, seen again
                cdi, index, ccount = di - 1, (reobs - 1 - (pos - count)) * REOBSERVE_EVERY, prev_count
            if index % REOBSERVE_EVERY == 0:  # seen again tomorrow: drawn from its own RNG
                seed_tweet_rng(_mix(seed, "tweet", si, cdi, index))
                r = tweet_random
            else:
                r = page_random
            lo = index * DAY_MS // ccount
            day_start = day_ms[cdi]
            offset = lo + int(r() * ((index + 1) * DAY_MS // ccount - lo))
            ms = day_start + offset
            tid = ((ms - TWITTER_EPOCH_MS) << 22) | sbits | (index & 0x3FF)
            ids.append(tid)
            sid = str(tid)
            author = own if own >= 0 else na + int(span * r() * r())
            users[author] = None
            x = r()
            kind = 0 if x < 0.6 else 1 if x < 0.8 else 2 if x < 0.88 else 3  # original reply quote retweet
            x = r()
            if x < 0.5:
                mentioned = []
            elif x < 0.75:
                mentioned = [na + int(span * r())]
            else:
                mentioned = [na + int(span * r()), na + int(span * r())]
            if mentioned_account >= 0:
                mentioned.insert(0, mentioned_account)
                if kind == 3:
                    kind = 0
            x = r()
            ntags = 0 if x < 0.2 else 1 if x < 0.6 else 2 if x < 0.8 else 3
            t0, step = int(r() * 9), 1 + int(r() * 8)
            opener = openers[int(r() * PHRASES)]
            closer, extra = closers[int(r() * PHRASES)]
            ents = ""
            if kind == 3:  # retweet: "RT @original_author: <their text>"
                orig = na + int(span * r())
                ref_id = tid - (1 + int(r() * (1 << 30))) * 1000
                uname, ulen, utail = names[orig] or mention(orig)
                prefix = f"RT @{uname}: "
                ents = f'"mentions":[{{"start":3,"end":{3 + ulen},{utail}]'
                users[orig] = None
                refs = f'"referenced_tweets":[{{"type":"retweeted","id":"{ref_id}"}}],'
                reply = ""
            else:
                prefix = ""
                if mentioned:
                    at = 0
                    items = []
                    for uid in mentioned:
                        uname, ulen, utail = names[uid] or mention(uid)
                        items.append(f'{{"start":{at},"end":{at + ulen},{utail}')
                        users[uid] = None
                        prefix += f"@{uname} "
                        at += ulen + 1
                    ents = f'"mentions":[{",".join(items)}]'
                if kind == 0:
                    ref_id = 0
                    refs = reply = ""
                elif kind == 1:
                    reply_to = mentioned[0] if mentioned else na + int(span * r())
                    ref_id = tid - (1 + int(r() * (1 << 28))) * 1000
                    refs = f'"referenced_tweets":[{{"type":"replied_to","id":"{ref_id}"}}],'
                    reply = f',"in_reply_to_user_id":"{USER_ID_BASE + reply_to}"'
                else:
                    ref_id = tid - (1 + int(r() * (1 << 28))) * 1000
                    refs = f'"referenced_tweets":[{{"type":"quoted","id":"{ref_id}"}}],'
                    reply = ""
                    inc.append(
                        f'{{"id":"{ref_id}","text":"{PAIRS[int(r() * NP)]}","created_at":"'
                        f'{iso(ms - 3_600_000 * (1 + int(r() * 23)))}","author_id":"'
                        f'{USER_ID_BASE + na + int(span * r())}","edit_history_tweet_ids":["{ref_id}"]}}'
                    )
            text = f"{prefix}{opener} {closer}"
            if ntags:
                at = len(text) - extra
                if ntags == 1:
                    piece, plen, ptail = TAG_PIECES[t0]
                    tags = f'"hashtags":[{{"start":{at + 1},"end":{at + 1 + plen},{ptail}]'
                    text += piece
                else:
                    items = []
                    for j in range(ntags):
                        piece, plen, ptail = TAG_PIECES[(t0 + j * step) % 9]
                        items.append(f'{{"start":{at + 1},"end":{at + 1 + plen},{ptail}')
                        text += piece
                        at += plen + 1
                    tags = f'"hashtags":[{",".join(items)}]'
                ents = f"{ents},{tags}" if ents else tags
            if kind == 2 or r() < 0.25:
                short = _tco(tid)
                at = len(text) - extra + 1
                if kind == 2:
                    target = f"https://twitter.com/i/web/status/{ref_id}"
                    display = "twitter.com/i/web/status/"
                else:
                    word = WORDS[int(r() * NW)]
                    target = f"https://example.com/{word}/{index}"
                    display = f"example.com/{word}/{index}"[:25]
                urls = (
                    f'"urls":[{{"start":{at},"end":{at + 23},"url":"{short}","expanded_url":"{target}",'
                    f'"display_url":"{display}"}}]'
                )
                ents = f"{ents},{urls}" if ents else urls
                text += " " + short
            if kind == 3:  # the retweeted tweet, in includes (or an error: it was deleted)
                if r() < 0.1:
                    errs.append(_not_found(ref_id))
                else:
                    inc.append(
                        f'{{"id":"{ref_id}","text":"{text[len(prefix) :]}","created_at":"'
                        f'{iso(ms - 3_600_000 * (1 + int(r() * 47)))}","author_id":"{USER_ID_BASE + orig}",'
                        f'"edit_history_tweet_ids":["{ref_id}"],"public_metrics":{{"retweet_count":'
                        f'{1 + int(r() * 500)},"reply_count":0,"like_count":{1 + int(r() * 2000)},'
                        '"quote_count":0}}'
                    )
            growth = 1.0 + (di - cdi) * (0.5 + r())
            likes = max(0, int(3 * growth / (1.0 - r()) ** 0.667) - 3)
            lang = LANG_PIECES[int(r() * 9)] if r() < 0.95 else ""
            sensitive = (
                (',"possibly_sensitive":true' if r() < 0.02 else ',"possibly_sensitive":false')
                if r() < 0.9
                else ""
            )
            if likes:
                metrics = (
                    f'"retweet_count":{int(likes * r() * 0.3)},"reply_count":{int(likes * r() * 0.1)},'
                    f'"like_count":{likes},"quote_count":{int(likes * r() * 0.05)},'
                    f'"bookmark_count":{int(likes * r() * 0.05)},'
                )
            else:  # (a third of new tweets) all zero, drawn all the same: the draws are in the sequence
                r(), r(), r(), r()
                metrics = NO_LIKES
            entities = f',"entities":{{{ents}}}' if ents else ""
            minute, milli = divmod(offset, 60_000)
            sec, milli = divmod(milli, 1000)
            data.append(
                f'{{"id":"{sid}","text":"{text}","created_at":"{created_minutes[cdi][minute]}{secs[sec]}{millis[milli]}",'
                f'"author_id":"{USER_ID_BASE + author}","conversation_id":"{ref_id if kind == 1 else sid}",'
                f'"edit_history_tweet_ids":["{sid}"],{refs}"public_metrics":{{{metrics}'
                f'"impression_count":{int((likes + 5) * (20 + r() * 80))}}}'
                f"{lang}{sensitive}{reply}{entities}}}"
            )
        more = last < total or src.page_count(di, si) > page_no + 1
        meta = f'"meta":{{"result_count":{len(ids)},"newest_id":"{ids[0]}","oldest_id":"{ids[-1]}"'
        if more:
            meta += f',"next_token":"{src.token(di, si, page_no + 1)}"'
        meta += prev_token + "}"
        head = "".join(['{"data":[', ",".join(data), '],"includes":{"users":[']).encode("latin-1")
        tail = ["]"]
        if inc:
            tail += [',"tweets":[', ",".join(inc), "]"]
        tail.append("}")
        if errs:
            tail += [',"errors":[', ",".join(errs), "]"]
        tail += [",", meta, "}"]
        frags = self.frags
        users_json = b",".join([frags[u] or self.user_json(u) for u in users])
        return b"".join((head, users_json, "".join(tail).encode("latin-1"))), len(ids), len(errs), str(ids[0])

    def day_minutes(self, day: int) -> list[str]:
        """``"YYYY-MM-DDTHH:MM:"`` of every minute of ``day`` (days since 1970), for a few days at a time."""
        minutes = self.minutes.get(day)
        if minutes is None:
            if len(self.minutes) >= 8:
                self.minutes.clear()
            iso_day = date.fromordinal(EPOCH_ORDINAL + day).isoformat()
            minutes = self.minutes[day] = [f"{iso_day}T{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
        return minutes

    def iso(self, ms: int) -> str:
        """``2026-10-31T12:34:56.789Z`` of a time in ms, from ready-made pieces."""
        day, rest = divmod(ms, DAY_MS)
        minute, milli = divmod(rest, 60_000)
        sec, milli = divmod(milli, 1000)
        return self.day_minutes(day)[minute] + self.secs[sec] + self.millis[milli]


def _tco(tid: int) -> str:
    """A t.co short link: 10 characters, derived from the tweet id."""
    n = (tid >> 10) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFF
    return f"https://t.co/{n:012x}"[:23]


def _not_found(tweet_id: int) -> str:
    return (
        f'{{"value":"{tweet_id}","detail":"Could not find tweet with referenced_tweets.id: [{tweet_id}].",'
        f'"title":"Not Found Error","resource_type":"tweet","parameter":"referenced_tweets.id",'
        f'"resource_id":"{tweet_id}","type":"https://api.twitter.com/2/problems/resource-not-found"}}'
    )


# -- rendering in worker processes ---------------------------------------------------------------------------
# Workers are plain subprocesses running ``_worker_main`` (``python -c``, not ``-m``: the module is then
# imported once, not also run as ``__main__``): unlike multiprocessing's spawn they never re-import the
# parent's ``__main__`` (which breaks scripts without a main guard), and unlike fork they copy no lock
# another thread holds (Airflow, s3fs's event-loop thread).
def _worker_main() -> None:
    """A worker: read the source, then ``(day, stream, start, stop)`` tasks; answer each with its pages: the
    length of a pickled list of ``(body size, tweets, errors, newest id)``, that list, then the bodies, raw
    (written straight from the rendered bytes and read straight into the consumer's, with no copy between)."""
    stdin = sys.stdin.buffer
    out = sys.stdout.fileno()
    source: SampleSource = pickle.load(stdin)
    while True:
        try:
            task = pickle.load(stdin)
        except EOFError:
            return
        if task is None:
            return
        di, si, start, stop = task
        pages = [source.render_page(di, si, p) for p in range(start, stop)]
        head = pickle.dumps([(len(body), *rest) for body, *rest in pages], protocol=5)
        _write_all(out, [len(head).to_bytes(4, "little"), head, *(body for body, *_ in pages)])


def _write_all(fd: int, parts: list[bytes]) -> None:
    views = [memoryview(p) for p in parts if p]
    while views:  # a pipe takes what fits: go on from where a write stopped
        done = os.writev(fd, views)
        while views and done >= len(views[0]):
            done -= len(views.pop(0))
        if done:
            views[0] = views[0][done:]


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (usually a single read, straight into the result); EOFError if it ends."""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = os.read(fd, size - got)
        if not more:
            raise EOFError
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Feeder:
    """Worker processes that render the pages of the pulls, in plan order, ahead of the consumer.

    Chunk ``i`` goes to worker ``i % workers``; each worker answers its chunks in order, so reading the
    workers round-robin gives the chunks in order. A thread of this process sends and receives, into a
    bounded queue (``QUEUE_PAGES``): the workers keep rendering while the consumer writes a bronze object
    or commits a run, and go on into the next pull without waiting for the end of this one. When the
    consumer asks for a later pull than the one being rendered (it skips streams), rendering jumps there:
    at most a queue's worth is wasted.
    """

    def __init__(self, source: SampleSource, plan: list[tuple[int, int]], workers: int) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.source = source
        self.plan = plan
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", "from ingestion.sources.sample import _worker_main; _worker_main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                bufsize=PIPE_BUFFER,
            )
            for _ in range(workers)
        ]
        for proc in self.procs:  # a page per read, not a 64 kB slice of one (Linux; elsewhere a no-op)
            with contextlib.suppress(ImportError, AttributeError, OSError):
                import fcntl

                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BUFFER)  # type: ignore[union-attr]
            pickle.dump(source, proc.stdin, protocol=5)  # type: ignore[arg-type]
        self.sent = 0
        self.received = 0
        self.busy = False
        self.wanted = 0  # the pull the consumer reads (or will): rendering never lags behind it
        self.closing = False
        self.ready: queue.Queue[Any] = queue.Queue(maxsize=max(1, QUEUE_PAGES // CHUNK_PAGES))  # chunks
        self.thread = threading.Thread(target=self._serve, name="sample-feeder", daemon=True)
        self.thread.start()

    def pages(self, pi: int) -> Iterator[tuple[bytes, int, int, str]]:
        """The rendered pages of pull ``pi`` of the plan, in order (one pull at a time: see ``busy``)."""
        self.busy = True
        self.wanted = max(self.wanted, pi)
        try:
            while True:
                try:
                    item = self.ready.get(timeout=0.5)
                except queue.Empty:
                    if not self.thread.is_alive():
                        raise RuntimeError("the sample feeder stopped (pulls read out of order?)") from None
                    continue
                if isinstance(item, _Failed):
                    raise item.error
                tpi, chunk = item
                if tpi < pi:  # what was rendered ahead for a pull nobody read
                    continue
                if tpi > pi or chunk is None:  # the end of this pull
                    if tpi > pi:  # (can only happen if pulls were read out of order)
                        raise RuntimeError("sample pulls read out of order")
                    return
                yield from chunk
        finally:
            self.wanted = max(self.wanted, pi + 1)  # a pull left half read: move on
            self.busy = False

    def _serve(self) -> None:
        """Keep every worker two chunks ahead, across pull boundaries (no pause between pulls); pass the
        chunks on in order, each pull closed by ``(pull, None)``; drop what was rendered for skipped pulls."""
        try:
            inflight: collections.deque[tuple[int, bool]] = collections.deque()  # (pull, its last chunk?)
            tasks = self._tasks()
            while True:
                while len(inflight) < 2 * len(self.procs) and not self.closing:
                    task = next(tasks, None)
                    if task is None:
                        break
                    pi, di, si, start, stop = task
                    self._send((di, si, start, stop))
                    inflight.append((pi, stop == self.source.page_count(di, si)))
                if not inflight:
                    break
                pages = self._receive()
                pi, last = inflight.popleft()
                if self.wanted > pi or self.closing:  # nobody reads that pull any more
                    continue
                if not self._put((pi, pages)) or (last and not self._put((pi, None))):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failed(exc))

    def _tasks(self) -> Iterator[tuple[int, int, int, int, int]]:
        """``(pull, day, stream, first page, end page)`` of each chunk in plan order, from the pull the
        consumer wants on: a pull it moved past is cut short."""
        pi = 0
        while not self.closing:
            pi = max(pi, self.wanted)
            if pi >= len(self.plan):
                return
            di, si = self.plan[pi]
            total = self.source.page_count(di, si)
            for start in range(0, total, CHUNK_PAGES):
                if self.wanted > pi or self.closing:
                    break
                yield pi, di, si, start, min(total, start + CHUNK_PAGES)
            pi += 1

    def _put(self, item: Any) -> bool:
        """Queue an item, unless the feeder is closing (then nobody reads: give up)."""
        while not self.closing:
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _send(self, task: tuple[int, int, int, int]) -> None:
        proc = self.procs[self.sent % len(self.procs)]
        pickle.dump(task, proc.stdin, protocol=5)  # type: ignore[arg-type]
        proc.stdin.flush()  # type: ignore[union-attr]
        self.sent += 1

    def _receive(self) -> list[tuple[bytes, int, int, str]]:
        proc = self.procs[self.received % len(self.procs)]
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        try:
            meta = pickle.loads(_read_exactly(fd, int.from_bytes(_read_exactly(fd, 4), "little")))
            pages = [(_read_exactly(fd, size), *rest) for size, *rest in meta]
        except EOFError:
            raise RuntimeError(f"a sample worker exited (code {proc.poll()}); see its error above") from None
        self.received += 1
        return pages

    def close(self) -> None:
        self.closing = True
        for proc in self.procs:  # the workers finish their chunk and exit
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
        for proc in self.procs:  # idle workers exit at once; busy ones (a run cut short) are stopped
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.thread.join(timeout=5)
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.stdout.close()  # type: ignore[union-attr]


__all__ = ["SampleSource", "stream_key"]

if __name__ == "__main__":
    _worker_main()
