"""The Twitter API v2 through ``tweepy``: recent search, user timelines and mentions, into bronze.

Endpoints (one bronze ``endpoint=`` partition each):

- ``search_recent``: ``GET /2/tweets/search/recent`` for each query; paginated with ``next_token``.
  Reaches back 7 days only: a window starting earlier is refused before any request.
- ``user_tweets``: ``GET /2/users/:id/tweets`` for each account; ``pagination_token``. The API serves only
  the **3,200 most recent** tweets of a timeline, whatever the window or ``since_id``.
- ``user_mentions``: ``GET /2/users/:id/mentions`` for each account; ``pagination_token``. Only the **800
  most recent** mentions are served. Accounts are resolved with ``GET /2/users/by/username/:username``
  (not landed in bronze: it is not a page of tweets).

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
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
import tweepy

from foundation.settings import ConfigError, Secret
from foundation.times import parse_utc, utcnow
from ingestion.http import (
    ApiError,
    Backoff,
    RateLimiter,
    RateLimitError,
    RateLimitWait,
    TransientError,
    problem_detail,
    protect_secret,
    redact,
    with_timeout,
)
from ingestion.pages import MalformedPage, Page, page_counts, snowflake_time
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

log = logging.getLogger(__name__)

# The full object model, as the X API v2 reference lists it for the three endpoints called: their shared
# TweetFieldsParameter, TweetExpansionsParameter, UserFieldsParameter, MediaFieldsParameter,
# PollFieldsParameter and PlaceFieldsParameter in the reference's OpenAPI document (github.com/xdevplatform/
# docs, openapi.json at 64486539; rendered as docs.x.com/x-api/posts/recent-search and its siblings).
# Left out, because an app-only bearer token cannot have them: the metrics the reference says need user
# context (non_public_metrics, organic_metrics, promoted_metrics, of Posts and media), and the user fields
# about the authenticated user's relation to a user (connection_status, receives_your_dm, subscription).
TWEET_FIELDS = ",".join(
    (
        "article",
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "media_metadata",
        "note_tweet",
        "possibly_sensitive",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "scopes",
        "source",
        "text",
        "withheld",
    )
)
EXPANSIONS = ",".join(
    (
        "article.cover_media",
        "article.media_entities",
        "attachments.media_keys",
        "attachments.media_source_tweet",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "entities.note.mentions.username",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    )
)
USER_FIELDS = ",".join(
    (
        "affiliation",
        "created_at",
        "description",
        "entities",
        "id",
        "is_identity_verified",
        "location",
        "most_recent_tweet_id",
        "name",
        "parody",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_followers_count",
        "verified_type",
        "withheld",
    )
)
MEDIA_FIELDS = ",".join(
    (
        "alt_text",
        "duration_ms",
        "height",
        "media_key",
        "preview_image_url",
        "public_metrics",
        "type",
        "url",
        "variants",
        "width",
    )
)
POLL_FIELDS = "duration_minutes,end_datetime,id,options,voting_status"
PLACE_FIELDS = "contained_within,country,country_code,full_name,geo,id,name,place_type"
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
        # wait_on_rate_limit stays off: tweepy would sleep for any reset time, without a cap.
        client = tweepy.Client(bearer_token=token, return_type=requests.Response, wait_on_rate_limit=False)
        client.session = session
        return client

    # -- the pulls ----------------------------------------------------------------------------------------
    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        client = self.client()
        window = self._request_window()
        for query in self.queries:
            params = {"query": query, "max_results": self.max_results, **FIELDS}
            pull = self._pull("search_recent", query, watermarks, params, window)
            fetch = _caller(client.search_recent_tweets)
            pull.pages = self._paginate(pull, "search_recent", fetch, params, "next_token", {})
            yield pull
        for account in self.accounts:
            for endpoint, method in (
                ("user_tweets", client.get_users_tweets),
                ("user_mentions", client.get_users_mentions),
            ):
                params = {"max_results": self.max_results, **FIELDS}
                pull = self._pull(endpoint, account, watermarks, params, window)
                pull.pages = self._timeline(client, pull, method, account, params)
                yield pull

    def _request_window(self) -> tuple[datetime, datetime] | None:
        """The window as requested: checked against the search horizon, the end kept clear of 'now'."""
        if self.window is None:
            return None
        start, end = self.window
        now = self.now()
        if self.queries and start < now - SEARCH_HORIZON:
            raise ConfigError(
                f"recent search only reaches 7 days back: the window starts {api_time(start)}, "
                f"before {api_time(now - SEARCH_HORIZON)}. Older tweets need the full-archive search "
                "(Pro/Enterprise access), or replay a recorded archive (--source replay)."
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
        pull = Pull(
            endpoint, stream, f"since-{mark.since_id or 'none'}", self.ingest_date, (), incremental=True
        )
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
        missing ``next_token`` does.
        """
        token: str | None = None
        seen: set[str] = set()
        tweets = 0
        while True:
            sent = dict(params)
            if token:
                sent[token_param] = token
            response, doc = self._request(pull, endpoint, functools.partial(fetch, sent))
            count, errors, newest = page_counts(doc)
            tweets += count
            yield Page(
                response.content,
                endpoint,
                pull.stream,
                {**context, **sent},
                http_status=response.status_code,
                rate_limit=self.limiter.windows.get(endpoint),
                tweet_count=count,
                error_count=errors,
                newest_id=newest,
            )
            meta = doc.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not token:
                break
            if token in seen:
                raise ApiError(
                    f"{endpoint} {pull.stream!r}: the API sent the same next_token twice "
                    f"({token}); stopping rather than looping"
                )
            seen.add(token)
        limit = TIMELINE_LIMITS.get(endpoint)
        if limit and tweets >= limit:
            note = (
                f"{endpoint} @{pull.stream}: {tweets} tweets, the most this endpoint serves (the {limit} "
                "most recent); older ones in the requested range may be missing"
            )
            pull.notes.append(note)
            log.warning("%s", note)

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
            try:
                body = response.json()
            except ValueError:
                body = {}
            reason = body.get("reason") if isinstance(body, dict) else None
            if reason == "client-not-enrolled" or "client-forbidden" in str(body.get("type", "")):
                return (
                    f"403 Forbidden from {endpoint}: this app's access level does not include the "
                    f"endpoint (reason: {reason or 'client-forbidden'}). The Free tier cannot read "
                    "tweets; reading search and timelines needs Basic access or higher, and the app must "
                    f"be attached to a Project in the developer portal. The API said: {detail}"
                )
            return (
                f"403 Forbidden from {endpoint}: the token is valid but may not make this request (an "
                "access tier without this endpoint, or a protected or suspended account). The API "
                f"said: {detail}"
            )
        if status == 400:
            return (
                f"400 Bad Request from {endpoint}: the request was refused as invalid. The API said: {detail}"
            )
        return f"{status} {response.reason} from {endpoint}. The API said: {detail}"

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        log.warning("%s", message)


def _caller(method: Callable[..., requests.Response]) -> Callable[[dict[str, Any]], requests.Response]:
    """Call a tweepy method with API parameter names (``tweet.fields``) as tweepy's (``tweet_fields``)."""

    def call(params: dict[str, Any]) -> requests.Response:
        return method(**{k.replace(".", "_"): v for k, v in params.items()})

    return call
