"""The Twitter API v2 through ``tweepy``: recent search, user timelines and mentions, into bronze.

Endpoints (one bronze ``endpoint=`` partition each):

- ``search_recent``: ``GET /2/tweets/search/recent`` for each query; paginated with ``next_token``.
  Reaches back 7 days only: a window starting earlier is refused before any request.
- ``user_tweets``: ``GET /2/users/:id/tweets`` for each account; ``pagination_token``. The API serves only
  the **3,200 most recent** tweets of a timeline, whatever the window or ``since_id``.
- ``user_mentions``: ``GET /2/users/:id/mentions`` for each account; ``pagination_token``. Only the **800
  most recent** mentions are served. Accounts are resolved with ``GET /2/users/by/username/:username``
  (not landed in bronze: it is not a page of tweets).
- with ``conversations`` (``--conversations``, ``TWEETLAKE_CONVERSATIONS``), after those: recent search for
  the conversations of the tweets the run landed and of those the streams follow, many conversations to a
  query (``conversation_id:1 OR conversation_id:2 ...``, up to ``query_max_length`` characters), landed
  under ``endpoint=search_recent``, stream ``conversations`` (:mod:`ingestion.conversations`).

Two kinds of run:

- incremental (no window): each (endpoint, query/account) continues from its ``since_id`` watermark;
  the run key is ``since-<watermark>`` so a crashed run, rerun from the same watermark, replaces its
  partial pages. The watermark advances only after every page is committed (see :mod:`ingestion.ingest`).
- windowed (``start_time``/``end_time``, e.g. an Airflow data interval or a backfill): every tweet created
  in ``[start_time, end_time)``; run key ``window-<start>-<end>``, bronze partition ``ingest_date`` = the
  window's start date; watermarks are neither used nor moved.

Every page lands as the API sent it (``return_type=requests.Response``: the raw body bytes and headers).
Rate limits, retries and timeouts: see :mod:`ingestion.http`. tweepy's own ``wait_on_rate_limit`` is off:
it sleeps without a cap. The bearer token never appears in a log record, an exception or bronze.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
import tweepy

from foundation.api_fields import (
    EXPANSIONS,
    MEDIA_FIELDS,
    PLACE_FIELDS,
    POLL_FIELDS,
    TWEET_FIELDS,
    USER_FIELDS,
)
from foundation.settings import ConfigError, Secret
from foundation.times import parse_utc, utcnow
from ingestion import spend
from ingestion.conversations import STREAM as CONVERSATIONS
from ingestion.conversations import ConversationStore, Origin, pack, query_of
from ingestion.http import (
    ApiError,
    Backoff,
    RateLimiter,
    RateLimitError,
    RateLimitWait,
    TransientError,
    drop_unreadable_rate_limit_headers,
    problem_detail,
    protect_secret,
    redact,
    with_timeout,
)
from ingestion.pages import MalformedPage, Page, page_counts, snowflake_time
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)

FIELDS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "user.fields": USER_FIELDS,
    "media.fields": MEDIA_FIELDS,
    "poll.fields": POLL_FIELDS,
    "place.fields": PLACE_FIELDS,
}

SEARCH_HORIZON = timedelta(days=7)
# The API refuses an end_time less than 10 s before the request; stay clear of it.
END_TIME_MARGIN = timedelta(seconds=30)
TIMELINE_LIMITS = {"user_tweets": 3200, "user_mentions": 800}
# The smallest max_results each endpoint takes (search: 10 to 100; timelines and mentions: 5 to 100)
MIN_RESULTS = {
    "search_recent": 10,
    "search_all": 10,
    "user_tweets": 5,
    "user_mentions": 5,
    "tweets_lookup": 1,
}
LOOKUP_IDS = 100  # ids one tweet lookup takes at most
# A tweet is minted before the page holding it is sent; a minute absorbs the skew between this clock and the
# API's. An id minted later than that is no ground for the watermark (see ApiSource._newest_inside).
CLOCK_SKEW = timedelta(minutes=1)
UNCHANGED = (
    "Nothing after the last committed page was ingested; the watermark is unchanged. Rerun: the rerun "
    "replaces this run's partial pages."
)
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

__all__ = ["ApiError", "ApiSource", "RateLimitError", "parse_time"]


def parse_time(value: datetime | date | str | None) -> datetime | None:
    """A UTC datetime from a datetime, a date or an ISO 8601 string; ``None`` for no bound."""
    if value is None or value == "":
        return None
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def api_time(ts: datetime) -> str:
    """The API's parameter format: second granularity, UTC, ``Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class QueryCount:
    """What ``GET /2/tweets/counts/recent`` said of one query: the window asked for (``start_time`` and
    ``end_time``, or ``since_id``), its buckets as sent (``start``, ``end``, ``tweet_count``) and notes."""

    query: str
    asked: dict[str, str]
    buckets: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()

    @property
    def posts(self) -> int:
        return sum(int(b.get("tweet_count") or 0) for b in self.buckets)


@dataclass
class ApiSource:
    """Queries and accounts to pull from the API v2; see the module docstring for what a run does.

    ``session`` replaces the HTTP session tweepy uses (tests mount an adapter that points it at a local
    fake API); ``sleep`` and ``clock`` let tests run rate-limit waits and backoffs without waiting.
    """

    bearer_token: Secret
    queries: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    timeout: float = 30.0
    max_rate_limit_wait: float = 900.0
    start_time: datetime | str | None = None
    end_time: datetime | str | None = None
    session: requests.Session | None = None
    max_results: int = 100
    retries: int = 5
    backoff_base: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    name: str = "api"
    ingest_date: date = field(default_factory=lambda: utcnow().date())
    problems: list[str] = field(default_factory=list)
    ids: tuple[str, ...] = ()  # tweets to look up (GET /2/tweets?ids=, 100 a request): `tweetlake rehydrate`
    ids_name: str = "rehydrate"  # the stream the lookup lands under (the ids file's name)
    archive: bool = False  # full-archive search (GET /2/tweets/search/all; Pro/Enterprise) for the queries
    max_posts: int | None = None  # posts this run may read (TWEETLAKE_MAX_POSTS_PER_RUN); None: no limit
    monthly_posts: int | None = None  # posts a calendar month may read (TWEETLAKE_MONTHLY_POST_BUDGET)
    posts_read: int = field(default=0, init=False)
    gone: list[str] = field(default_factory=list, init=False)  # looked up, not served: deleted, protected
    posts_before: int = 0  # read by earlier parts of the same run (a backfill's windows): the run's budget
    month_used: int = field(default=0, init=False)  # read this month before this run (the spend ledger)
    conversations: bool = False  # follow the conversations of what the run lands (ingestion.conversations)
    query_max_length: int = 512  # characters a query may have (TWEETLAKE_QUERY_MAX_LENGTH)
    # the conversations of the pull being landed: conversation id -> the newest id of it landed
    _landed: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.bearer_token, Secret):
            raise TypeError("bearer_token must be a Secret, so it never shows in a repr or a log line")
        self.queries = tuple(self.queries)
        self.accounts = tuple(a.lstrip("@") for a in self.accounts)
        start, end = parse_time(self.start_time), parse_time(self.end_time)
        self.start_time, self.end_time = start, end
        if (start is None) != (end is None):
            raise ConfigError(
                "a window needs both start_time and end_time (or neither, for an incremental "
                "run from the since_id watermarks)"
            )
        # the window as parsed (start_time/end_time also accept strings, so are typed loosely)
        self.window: tuple[datetime, datetime] | None = (start, end) if start and end else None
        if self.window and self.window[0] >= self.window[1]:
            raise ConfigError(
                f"window start {api_time(self.window[0])} is not before its end {api_time(self.window[1])}"
            )
        if not 10 <= self.max_results <= 100:
            raise ConfigError("max_results must be between 10 and 100")
        self.limiter = RateLimiter(self.max_rate_limit_wait, self.clock)
        self.backoff = Backoff(self.retries, self.backoff_base)
        self._user_ids: dict[str, str | None] = {}

    @property
    def windowed(self) -> bool:
        return self.window is not None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- the client ---------------------------------------------------------------------------------------
    def client(self) -> tweepy.Client:
        token = self.bearer_token.reveal()
        if not token:
            raise ConfigError(
                "no bearer token: set TWITTER_BEARER_TOKEN (or the Airflow connection twitter_default)"
            )
        protect_secret(token)
        if any(c.isspace() or not c.isprintable() or not c.isascii() for c in token):
            # requests would refuse the header quoting its value, token and all; no token has such a
            # character, so it is a paste gone wrong: say so, without the value
            raise ConfigError(
                "the bearer token contains a line break, a space or another character no token has (pasted "
                "across lines?): set TWITTER_BEARER_TOKEN (or the Airflow connection twitter_default) to "
                "the token on one line"
            )
        session = with_timeout(self.session or requests.Session(), self.timeout)
        drop_unreadable_rate_limit_headers(session)
        # wait_on_rate_limit stays off: tweepy would sleep for any reset time, without a cap.
        client = tweepy.Client(bearer_token=token, return_type=requests.Response, wait_on_rate_limit=False)
        client.session = session
        return client

    # -- the pulls ----------------------------------------------------------------------------------------
    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        client = self.client()
        window = self._request_window()
        if self.monthly_posts is not None:
            self.month_used = spend.posts_this_month(watermarks.lake, self.now())
        search, method = (
            ("search_all", client.search_all_tweets)
            if self.archive
            else ("search_recent", client.search_recent_tweets)
        )
        for query in self.queries:
            if self._spent(search, repr(query)):
                return
            params = {"query": query, "max_results": self.max_results, **FIELDS}
            pull = self._pull(search, query, watermarks, params, window)
            pull.pages = self._paginate(pull, search, _caller(method), params, "next_token", {})
            yield pull
            self._track(watermarks, pull)
        for account in self.accounts:
            for endpoint, method in (
                ("user_tweets", client.get_users_tweets),
                ("user_mentions", client.get_users_mentions),
            ):
                if self._spent(endpoint, f"@{account}"):
                    return
                params = {"max_results": self.max_results, **FIELDS}
                pull = self._pull(endpoint, account, watermarks, params, window)
                pull.pages = self._timeline(client, pull, method, account, params)
                yield pull
                self._track(watermarks, pull)
        if self.conversations and not self.archive:
            yield from self._conversation_pulls(client, watermarks)
        if self.ids:
            if self._spent("tweets_lookup", repr(self.ids_name)):
                return
            digest = hashlib.sha256("\n".join(self.ids).encode()).hexdigest()[:16]
            pull = Pull("tweets_lookup", self.ids_name, f"ids-{digest}", self.ingest_date, ())
            pull.pages = self._lookup(client, pull)
            yield pull

    def counts(self, watermarks: WatermarkStore, granularity: str = "day") -> Iterator[QueryCount]:
        """For each query, how many posts its next ingest would read: ``GET /2/tweets/counts/recent``
        (tweepy's ``get_recent_tweets_count``) over the window that ingest would ask for (the one given,
        or since the query's watermark, with the same 7-day fallback), through the same rate limits,
        retries and error messages. Counts answer numbers, not posts. Timelines have no counts endpoint:
        accounts are not counted."""
        client = self.client()
        window = self._request_window()
        fetch = _caller(client.get_recent_tweets_count)
        for query in self.queries:
            params: dict[str, Any] = {"query": query, "granularity": granularity}
            pull = self._pull("search_recent", query, watermarks, params, window)
            buckets: list[dict[str, Any]] = []
            token: str | None = None
            seen: set[str] = set()
            while True:  # recent counts come in one answer; follow a next_token should one come
                sent = {**params, "next_token": token} if token else dict(params)
                _, doc = self._request(pull, "counts_recent", functools.partial(fetch, sent))
                if _only_errors(doc):
                    errors = doc.get("errors") or [{}]
                    why = errors[0].get("detail") or errors[0].get("title") or "errors only"
                    raise ApiError(f"counts_recent {query!r}: the API answered only errors: {why}")
                buckets.extend(b for b in doc.get("data") or [] if isinstance(b, dict))
                token = _next_token(doc, seen, f"counts_recent {query!r}", len(seen) + 1)
                if not token:
                    break
            asked = {
                k: v for k, v in params.items() if k in ("start_time", "end_time", "since_id", "until_id")
            }
            yield QueryCount(query, asked, tuple(buckets), tuple(pull.notes))

    # -- conversations ------------------------------------------------------------------------------------
    def _origins(self) -> list[Origin]:
        search = "search_all" if self.archive else "search_recent"
        return [Origin(search, q) for q in self.queries] + [
            Origin(endpoint, a) for a in self.accounts for endpoint in ("user_tweets", "user_mentions")
        ]

    def _note_conversations(self, doc: dict[str, Any]) -> None:
        """Remember the conversations of a page's tweets (not of retweets: a retweet is no conversation
        of its own, replies go to the original)."""
        data = doc.get("data")
        for tweet in data if isinstance(data, list) else []:
            if not isinstance(tweet, dict):
                continue
            cid, tid = str(tweet.get("conversation_id") or ""), str(tweet.get("id") or "")
            refs = tweet.get("referenced_tweets") or []
            if not (cid.isdigit() and tid.isdigit()) or any(
                isinstance(r, dict) and r.get("type") == "retweeted" for r in refs
            ):
                continue
            if int(tid) > int(self._landed.get(cid, "0")):
                self._landed[cid] = tid

    def _track(self, watermarks: WatermarkStore, pull: Pull) -> None:
        """Once ``pull`` is committed (the driver asks for the next pull only then), follow the
        conversations it landed: recorded now, so a failure later in the run cannot lose them."""
        landed, self._landed = self._landed, {}
        if self.conversations and landed and not self.archive:
            new = ConversationStore(watermarks.lake).track(Origin(pull.endpoint, pull.stream), landed)
            log.info("%s %r: %d conversation(s), %d new", pull.endpoint, pull.stream, len(landed), new)

    def _conversation_pulls(self, client: tweepy.Client, watermarks: WatermarkStore) -> Iterator[Pull]:
        """One pull (stream ``conversations``) searching every followed conversation, packed into OR
        queries; after it is committed, the conversations of each pack searched whole move forward."""
        store, origins = ConversationStore(watermarks.lake), self._origins()
        horizon = self.now() - SEARCH_HORIZON + timedelta(minutes=1)
        followed = store.live(origins, horizon)
        if not followed or self._spent("search_recent", repr(CONVERSATIONS)):
            return
        # oldest since_id first: a pack is searched from its oldest since_id, so conversations share a pack
        # only where that reads no post again (pack(): the same since_id, or new ones)
        order = sorted(followed, key=lambda c: (int(followed[c]), int(c)))
        packs = pack(order, self.query_max_length, followed)
        # the key names what is searched (not the horizon, which moves): a rerun replaces its pages
        digest = hashlib.sha256("\n".join(f"{c}>{followed[c]}" for c in order).encode()).hexdigest()[:16]
        pull = Pull("search_recent", CONVERSATIONS, f"conv-{digest}", self.ingest_date, (), incremental=False)
        done: list[tuple[list[str], str]] = []
        pull.pages = self._search_packs(client, pull, packs, followed, horizon, done)
        yield pull
        for ids, newest in done:
            for origin in origins if newest else ():  # a pack that found nothing keeps its since_id
                store.advance(origin, ids, newest)
        self._landed = {}  # the conversations' own tweets: followed already

    def _search_packs(
        self,
        client: tweepy.Client,
        pull: Pull,
        packs: list[list[str]],
        followed: dict[str, str],
        horizon: datetime,
        done: list[tuple[list[str], str]],
    ) -> Iterator[Page]:
        """The pages of each pack's search, oldest since_id first; each pack searched whole goes to
        ``done`` with the newest id it landed ("" for none)."""
        fetch = _caller(client.search_recent_tweets)
        self._note_old_conversations(pull, followed, horizon)
        for ids in packs:
            since = min(int(followed[c]) for c in ids)
            params: dict[str, Any] = {"query": query_of(ids), "max_results": self.max_results, **FIELDS}
            if snowflake_time(since) < horizon:  # recent search refuses an older since_id
                params["start_time"] = api_time(horizon)
            else:
                params["since_id"] = str(since)
            newest = 0
            try:
                for page in self._paginate(pull, "search_recent", fetch, params, "next_token", {}):
                    newest = max(newest, int(page.newest_id or 0))
                    yield page
            except ApiError as exc:
                if "400 Bad Request" not in str(exc):
                    raise
                raise ApiError(
                    f"{exc}\nThe conversation query was {len(params['query'])} characters "
                    f"(TWEETLAKE_QUERY_MAX_LENGTH={self.query_max_length}): set TWEETLAKE_QUERY_MAX_LENGTH "
                    "to the query length your access level allows (512 on self-serve recent search, 4096 on "
                    "Enterprise) and rerun."
                ) from None
            if pull.stopped:
                return
            done.append((ids, str(newest) if newest else ""))

    @staticmethod
    def _note_old_conversations(pull: Pull, followed: dict[str, str], horizon: datetime) -> None:
        """Say which conversations began before the 7 days recent search reaches: their earlier posts need
        full-archive search (Pro/Enterprise: ``tweetlake backfill``)."""
        old = sorted((c for c in followed if snowflake_time(int(c)) < horizon), key=int)
        if not old:
            return
        note = (
            f"conversations: {len(old)} began before {api_time(horizon)}, beyond the 7 days recent search "
            f"reaches (the oldest {old[0]}, {api_time(snowflake_time(int(old[0])))}): only their posts since "
            "then are searched. The earlier ones need full-archive search (Pro/Enterprise), e.g. "
            f"`tweetlake backfill --query 'conversation_id:{old[0]}' --since "
            f"{snowflake_time(int(old[0])).date().isoformat()} --until {horizon.date().isoformat()}`."
        )
        pull.notes.append(note)
        log.warning("%s", note)

    def _lookup(self, client: tweepy.Client, pull: Pull) -> Iterator[Page]:
        """The ids looked up 100 a request (fewer where the budget is nearer), each answer a page as sent;
        the ids an answer does not serve (an error each: deleted, protected, suspended) go to ``gone``."""
        fetch = _caller(client.get_tweets)
        at = number = 0
        while at < len(self.ids):
            cap = self._page_cap("tweets_lookup")
            if cap == 0:
                self._stop_at_budget(pull, "tweets_lookup", number)
                return
            chunk = self.ids[at : at + min(LOOKUP_IDS, cap or LOOKUP_IDS)]
            sent = {"ids": ",".join(chunk), **FIELDS}
            response, doc = self._request(pull, "tweets_lookup", functools.partial(fetch, sent))
            count, errors, newest = page_counts(doc)
            self.posts_read += count
            served = {str(t.get("id")) for t in doc.get("data") or [] if isinstance(t, dict)}
            self.gone += [i for i in chunk if i not in served]
            number += 1
            yield Page(
                response.content,
                "tweets_lookup",
                pull.stream,
                sent,
                http_status=response.status_code,
                rate_limit=self.limiter.windows.get("tweets_lookup"),
                tweet_count=count,
                error_count=errors,
                newest_id=newest,
            )
            at += len(chunk)

    # -- the budget -----------------------------------------------------------------------------------------
    def _left(self) -> tuple[int, str] | None:
        """The posts the budgets leave and the budget that leaves the fewest (its name and size), or None
        without a budget."""
        budgets = []
        if self.max_posts is not None:
            left = self.max_posts - self.posts_before - self.posts_read
            budgets.append((left, f"the run's budget of {self.max_posts:,}"))
        if self.monthly_posts is not None:
            left = self.monthly_posts - self.month_used - self.posts_read
            budgets.append(
                (
                    left,
                    f"this month's budget of {self.monthly_posts:,} ({self.month_used:,} read before)",
                )
            )
        return min(budgets) if budgets else None

    def _page_cap(self, endpoint: str) -> int | None:
        """The most posts the next page may bring within the budgets: None without one, 0 when the rest
        is below the endpoint's smallest page (it cannot be asked for fewer)."""
        left = self._left()
        if left is None:
            return None
        return left[0] if left[0] >= MIN_RESULTS.get(endpoint, 10) else 0

    def _budget_name(self) -> str:
        left = self._left()
        variable = (
            "TWEETLAKE_MAX_POSTS_PER_RUN"
            if left and left[1].startswith("the run")
            else "TWEETLAKE_MONTHLY_POST_BUDGET"
        )
        return f"{left[1] if left else ''} posts read ({variable})"

    def _spent(self, endpoint: str, stream: str) -> bool:
        """The budget is spent before ``stream``'s pull started: note it and stop the run's pulls."""
        if self._page_cap(endpoint) != 0:
            return False
        self._problem(
            f"{endpoint} {stream} and the streams after it: not pulled, {self._budget_name()} is spent; "
            "the next run starts from their watermarks"
        )
        return True

    def _stop_at_budget(self, pull: Pull, endpoint: str, pages: int) -> None:
        where = f"the oldest post landed ({pull.oldest_id})" if pull.oldest_id else "its watermark"
        if pull.incremental:
            after = f"the next run reads the rest first, from {where} down to the watermark"
        elif pull.stream == CONVERSATIONS:
            after = (
                "the conversations not searched whole keep their since_id (_state/conversations/): the next "
                "run searches them again"
            )
        elif endpoint == "tweets_lookup":
            after = (
                "the ids after them were not looked up: rerun with a larger budget (its pages are replaced)"
            )
        else:
            after = (
                "the window is incomplete (its newest posts landed): rerun it with a larger budget "
                "(its pages are replaced, not duplicated)"
            )
        pull.stopped = (
            f"{endpoint} {pull.stream!r}: stopped after {pages} page(s) at {self._budget_name()}; the pages "
            f"read are kept, {after}"
        )
        log.warning("%s", pull.stopped)

    def _request_window(self) -> tuple[datetime, datetime] | None:
        """The window as requested: checked against the search horizon, the end kept clear of 'now'."""
        if self.window is None:
            return None
        start, end = self.window
        now = self.now()
        if self.queries and not self.archive and start < now - SEARCH_HORIZON:
            raise ConfigError(
                f"recent search only reaches 7 days back: the window starts {api_time(start)}, "
                f"before {api_time(now - SEARCH_HORIZON)}. Older tweets need the full-archive search "
                "(`tweetlake backfill`, Pro/Enterprise access), or replay a recorded archive "
                "(--source replay)."
            )
        clear = min(end, now - END_TIME_MARGIN)
        if clear <= start:
            raise ConfigError(f"the window {api_time(start)} .. {api_time(end)} has not started yet")
        return start, clear

    def _pull(
        self,
        endpoint: str,
        stream: str,
        watermarks: WatermarkStore,
        params: dict[str, Any],
        window: tuple[datetime, datetime] | None,
    ) -> Pull:
        if window is not None and self.window is not None:
            start, end = self.window  # the key names the window asked for, not the one clear of 'now'
            params["start_time"], params["end_time"] = api_time(window[0]), api_time(window[1])
            key = f"window-{_key_time(start)}-{_key_time(end)}"
            return Pull(endpoint, stream, key, start.date(), (), incremental=False)
        mark = watermarks.get(endpoint, stream)
        key = f"since-{mark.since_id or 'none'}"
        if mark.pending_until_id:  # an earlier pull stopped at a budget: read the gap it left first
            params["until_id"] = mark.pending_until_id
            key += f"-until-{mark.pending_until_id}"
        pull = Pull(endpoint, stream, key, self.ingest_date, (), incremental=True)
        if mark.since_id:
            horizon = self.now() - SEARCH_HORIZON + timedelta(minutes=1)
            if endpoint == "search_recent" and snowflake_time(mark.since_id) < horizon:
                # Recent search refuses a since_id older than 7 days; what lies between is out of reach.
                params["start_time"] = api_time(horizon)
                note = (
                    f"{endpoint} {stream!r}: the watermark {mark.since_id} is older than the 7 days "
                    f"recent search reaches; pulling from {params['start_time']}. Tweets in between "
                    "cannot be fetched with recent search."
                )
                pull.notes.append(note)
                log.warning("%s", note)
            else:
                params["since_id"] = mark.since_id
        return pull

    def _timeline(
        self,
        client: tweepy.Client,
        pull: Pull,
        method: Callable[..., Any],
        account: str,
        params: dict[str, Any],
    ) -> Iterator[Page]:
        user_id = self._user_id(client, pull, account)
        if user_id is None:
            return
        fetch = _caller(lambda **kw: method(user_id, **kw))
        yield from self._paginate(
            pull, pull.endpoint, fetch, params, "pagination_token", {"user_id": user_id, "username": account}
        )

    def _user_id(self, client: tweepy.Client, pull: Pull, account: str) -> str | None:
        """The id of ``@account`` (looked up once per source); None, with a problem noted, if unknown."""
        if account not in self._user_ids:
            response, doc = self._request(
                pull, "users_by_username", lambda: client.get_user(username=account)
            )
            data = doc.get("data")
            if isinstance(data, dict) and data.get("id"):
                self._user_ids[account] = str(data["id"])
            else:
                errors = doc.get("errors") or [{}]
                why = errors[0].get("detail") or errors[0].get("title") or "no such user"
                self._problem(f"account @{account}: {why} (skipped: no timeline or mentions pulled)")
                self._user_ids[account] = None
        return self._user_ids[account]

    def _paginate(
        self,
        pull: Pull,
        endpoint: str,
        fetch: Callable[[dict[str, Any]], requests.Response],
        params: dict[str, Any],
        token_param: str,
        context: dict[str, Any],
    ) -> Iterator[Page]:
        """Every page of one request, following ``meta.next_token`` until it is absent.

        A short page (fewer than ``max_results``) or an empty one does not end the pagination; only a
        missing ``next_token`` does. A token sent twice (a loop), or a page of only errors after the first
        (the rest unreachable), fails the pull: its pages stay uncommitted and its watermark where it was.
        """
        token: str | None = None
        seen: set[str] = set()
        tweets = number = 0
        while True:
            number += 1
            sent = dict(params)
            if token:
                sent[token_param] = token
            cap = self._page_cap(endpoint)
            if cap == 0:
                self._stop_at_budget(pull, endpoint, number - 1)
                return
            if cap is not None:
                sent["max_results"] = min(int(sent.get("max_results", self.max_results)), cap)
            response, doc = self._request(pull, endpoint, functools.partial(fetch, sent))
            count, errors, _ = page_counts(doc)
            tweets += count
            self.posts_read += count
            pull.oldest_id = _oldest(doc, pull.oldest_id)
            if self.conversations:
                self._note_conversations(doc)
            yield Page(
                response.content,
                endpoint,
                pull.stream,
                {**context, **sent},
                http_status=response.status_code,
                rate_limit=self.limiter.windows.get(endpoint),
                tweet_count=count,
                error_count=errors,
                newest_id=self._newest_inside(pull, number, doc, sent),
            )
            if _only_errors(doc):
                self._errors_only(pull, number, doc)
                return
            token = _next_token(doc, seen, f"{endpoint} {pull.stream!r}", number)
            if not token:
                break
        limit = TIMELINE_LIMITS.get(endpoint)
        if limit and tweets >= limit:
            note = (
                f"{endpoint} @{pull.stream}: {tweets} tweets, the most this endpoint serves (the {limit} "
                "most recent); older ones in the requested range may be missing"
            )
            pull.notes.append(note)
            log.warning("%s", note)

    def _newest_inside(self, pull: Pull, number: int, doc: dict[str, Any], sent: dict[str, Any]) -> str:
        """The newest id of the page's tweets that are inside the window asked for ("" if none).

        Tweets outside it are kept (bronze lands responses unchanged; silver decides what a table holds),
        but a watermark moved past the window's end would skip, for good, every tweet between that end and
        it. The window: after ``since_id``; from ``start_time``; before ``end_time``, or (incremental: no
        end) minted before the page was fetched, give or take the clock skew between us and the API."""
        data = doc.get("data")
        tweets = data if isinstance(data, list) else []
        ids = [int(t["id"]) for t in tweets if isinstance(t, dict) and str(t.get("id", "")).isdigit()]
        since = int(sent["since_id"]) if "since_id" in sent else None
        start = parse_utc(sent["start_time"]) if "start_time" in sent else None
        end = parse_utc(sent["end_time"]) if "end_time" in sent else self.now() + CLOCK_SKEW
        inside = [
            i
            for i in ids
            if (since is None or i > since)
            and (start is None or snowflake_time(i) >= start)
            and snowflake_time(i) < end
        ]
        if len(inside) < len(ids):
            bounds = (
                f"after id {since}" if since is not None else f"from {sent.get('start_time', 'any time')}"
            )
            note = (
                f"{pull.endpoint} {pull.stream!r} page {number}: {len(ids) - len(inside)} tweet(s) outside "
                f"the requested window ({bounds}, before {api_time(end)}): kept in bronze as received; the "
                "watermark ignores them"
            )
            pull.notes.append(note)
            log.warning("%s", note)
        return str(max(inside)) if inside else ""

    def _errors_only(self, pull: Pull, number: int, doc: dict[str, Any]) -> None:
        """A 200 with only ``errors``: on a first page, the API's answer for that query or account (a
        protected or suspended one: a problem, the stream skipped); later, the pages after it cannot be
        reached (the pull fails rather than end short)."""
        why = "; ".join(
            ": ".join(str(e[k]) for k in ("title", "detail", "message") if e.get(k))
            for e in doc["errors"][:3]
            if isinstance(e, dict)
        )
        where = f"{pull.endpoint} {pull.stream!r}"
        if number > 1:
            raise ApiError(
                f"{where}: page {number} came back with only errors ({why}); the pages after it were not "
                f"fetched. {UNCHANGED}"
            )
        types = " ".join(str(e.get("type", "")) for e in doc["errors"] if isinstance(e, dict))
        advice = (
            "The account may be protected or suspended: remove it from TWEETLAKE_ACCOUNTS, or get access "
            "to it."
            if "not-authorized-for-resource" in types
            else "If it persists, check the query or account (TWEETLAKE_QUERIES, TWEETLAKE_ACCOUNTS)."
        )
        self._problem(
            f"{where}: the API answered with only errors ({why}): nothing pulled for it this run (the answer "
            f"is kept in bronze; its watermark stays). {advice}"
        )

    # -- one request, with rate limits and retries ---------------------------------------------------------
    def _request(
        self, pull: Pull, endpoint: str, call: Callable[[], requests.Response]
    ) -> tuple[requests.Response, dict[str, Any]]:
        """Call once, waiting out spent rate-limit windows and retrying transient failures (the policy:
        :meth:`ingestion.http.Backoff.retrying`)."""
        waited_429 = False

        def attempt() -> tuple[requests.Response, dict[str, Any]]:
            nonlocal waited_429
            wait = self.limiter.before_request(endpoint)
            if wait is not None:
                pull.waiting(wait.seconds, wait.message)
                self.sleep(wait.seconds)
            try:
                return self._attempt(endpoint, call)
            except tweepy.TooManyRequests as exc:
                wait = self.limiter.after_429(endpoint, exc.response, waited_429)  # or RateLimitError
                waited_429 = True
                raise RateLimitWait(wait) from None

        result: tuple[requests.Response, dict[str, Any]] = self.backoff.retrying(self.sleep, pull.waiting)(
            attempt
        )
        return result

    def _attempt(
        self, endpoint: str, call: Callable[[], requests.Response]
    ) -> tuple[requests.Response, dict[str, Any]]:
        """One request: the response and its parsed page, or :class:`TransientError` (worth a retry) or
        :class:`ApiError` (not); tweepy's 429 passes through."""
        secrets = (self.bearer_token.reveal(),)
        try:
            response = call()
        except tweepy.TooManyRequests:
            raise
        except tweepy.TwitterServerError as exc:
            r = exc.response
            failure = f"{r.status_code} {r.reason} from {endpoint}: {problem_detail(r)}"
        except TRANSIENT as exc:
            failure = f"{type(exc).__name__} calling {endpoint}: {exc}"
        except tweepy.HTTPException as exc:
            raise ApiError(redact(self._explain(endpoint, exc.response), secrets)) from None
        except Exception as exc:
            # Anything else is a bug or a broken environment: it propagates as it is, unless its text
            # quotes the request (a transport error with the headers, the token in them). Then only a
            # redacted copy leaves, without the original in its chain (a traceback prints the chain).
            told = f"{type(exc).__name__} calling {endpoint}: {exc}"
            if any(s in told or s in repr(exc) for s in secrets if s):
                raise ApiError(redact(told, secrets)) from None
            raise
        else:
            self.limiter.update(endpoint, response.headers)
            try:
                doc = json.loads(response.content)
                page_counts(doc)
                return response, doc
            except (ValueError, MalformedPage) as exc:
                failure = (
                    f"{response.status_code} from {endpoint} with a body that is not a response page ({exc})"
                )
        raise TransientError(redact(failure, secrets))

    @staticmethod
    def _explain(endpoint: str, response: requests.Response) -> str:
        status = response.status_code
        detail = problem_detail(response)
        if status == 401:
            return (
                f"401 Unauthorized from {endpoint}: the bearer token was rejected. It is wrong, revoked "
                "or regenerated, or not an app-only bearer token; check TWITTER_BEARER_TOKEN (or the "
                f"Airflow connection twitter_default). The API said: {detail}"
            )
        if status == 403:
            return f"403 Forbidden from {endpoint}: {_forbidden(response)} The API said: {detail}"
        if status == 400:
            return (
                f"400 Bad Request from {endpoint}: the request was refused as invalid. The API said: {detail}"
            )
        return f"{status} {response.reason} from {endpoint}. The API said: {detail}"

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        log.warning("%s", message)


_ENROL = (
    "The Free tier cannot read tweets; reading search and timelines needs Basic access or higher, and the "
    "app must be attached to a Project in the developer portal."
)
# What each documented 403 means for a reader of tweets with an app-only bearer token, and what to do.
_FORBIDDEN = {
    "client-not-enrolled": "this app's access level does not include the endpoint "
    "(reason: client-not-enrolled). " + _ENROL,
    "official-client-forbidden": "this app may not call the endpoint (reason: official-client-forbidden): "
    "use the keys and token of an App enrolled for this endpoint (attached to a Project, at an access level "
    "that includes it; developer portal).",
    "client-forbidden": "this app's access level does not include the endpoint (reason: client-forbidden). "
    + _ENROL,
    "unsupported-authentication": "the endpoint does not accept an app-only bearer token "
    "(unsupported-authentication): it needs user context (OAuth 1.0a or OAuth 2.0 user context), which "
    "tweetlake does not use; leave the endpoint out of the configuration.",
    "not-authorized-for-resource": "not authorized for the resource (not-authorized-for-resource): the "
    "account asked for is protected or suspended, or the app may not see it; remove it from "
    "TWEETLAKE_ACCOUNTS (or the query from TWEETLAKE_QUERIES), or get access to it.",
    "453": "this app's access level does not include the endpoint (error 453). " + _ENROL,
}


def _forbidden(response: requests.Response) -> str:
    """The cause of a 403, from its body: the problem's ``reason``, its ``type``, or a v1.1-style error
    code (453: the access level), in that order; a generic advice when the body names none."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    problem = str(body.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    codes = [str(e.get("code")) for e in body.get("errors") or [] if isinstance(e, dict)]
    for key in (str(body.get("reason", "")), problem, *codes):
        if key in _FORBIDDEN:
            return _FORBIDDEN[key]
    return (
        "the token is valid but may not make this request (an access level without this endpoint, or a "
        "protected or suspended account): check the App's access level and Project in the developer portal."
    )


def _oldest(doc: dict[str, Any], oldest: str | None) -> str | None:
    """The smaller of ``oldest`` and the page's oldest post id (its ``data``, not ``includes``)."""
    data = doc.get("data")
    ids = (
        [int(t["id"]) for t in data if isinstance(t, dict) and str(t.get("id", "")).isdigit()]
        if isinstance(data, list)
        else []
    )
    if oldest:
        ids.append(int(oldest))
    return str(min(ids)) if ids else None


def _next_token(doc: dict[str, Any], seen: set[str], pull: str, number: int) -> str | None:
    """The page's ``meta.next_token`` (None on the last page), added to ``seen``; one seen before (a loop)
    fails the pull rather than fetching (and landing) the same pages again."""
    meta = doc.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    if token and token in seen:
        raise ApiError(
            f"{pull}: the API sent the same next_token twice ({token}) at page {number}; stopping rather "
            f"than looping (or landing its pages again). {UNCHANGED}"
        )
    if token:
        seen.add(token)
    return token


def _only_errors(doc: dict[str, Any]) -> bool:
    """A body with ``errors`` and neither ``data`` nor ``meta``: no page of results, not even an empty one."""
    return bool(doc.get("errors")) and "data" not in doc and "meta" not in doc


def _caller(method: Callable[..., requests.Response]) -> Callable[[dict[str, Any]], requests.Response]:
    """Call a tweepy method with API parameter names (``tweet.fields``) as tweepy's (``tweet_fields``)."""

    def call(params: dict[str, Any]) -> requests.Response:
        return method(**{k.replace(".", "_"): v for k, v in params.items()})

    return call
