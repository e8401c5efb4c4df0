"""A fake Twitter API v2 on 127.0.0.1: real HTTP, real-shaped bodies, scripted failures.

It serves what tweetlake's API source calls: ``GET /2/tweets/search/recent`` and ``/all``,
``/2/tweets`` (lookup), ``/2/tweets/counts/recent``, ``/2/users/by/username/:u``, ``/2/users/:id/tweets`` and
``/2/users/:id/mentions``, and batch compliance (``/2/compliance/jobs``:
:mod:`tests.fake_twitter.compliance`), with the documented behaviour the source relies on: newest first;
``since_id``/``until_id``/``start_time``/``end_time`` filtering; pagination through ``meta.next_token``
(sent back as ``next_token`` on search, ``pagination_token`` on timelines); the 7-day limit of recent
search (none on full-archive search); queries of ``conversation_id:`` terms joined by ``OR``, answered from
every tweet it holds, and the documented query lengths (512 characters on recent search, 1,024 on
full-archive, self-serve; longer: a 400); counts per minute, hour or day; ``x-rate-limit-*`` headers; and the
API's error bodies (problem JSON: 401, 403 client-not-enrolled, 429 with reset headers, 429
UsageCapExceeded, 5xx, 400 invalid request).
Partial errors ride along in 200 responses when asked for.

Failures are scripted with :meth:`FakeTwitter.fail`: a status and body instead of the answer, or the real
answer rewritten (``rewrite``: a repeated ``next_token``, an empty page, tweets outside the window), cut
short (``cut``: a truncated body), or cut and the connection reset mid-body (``reset``); a header given
as ``None`` is left out (a proxy's 429 without ``x-rate-limit-*``). Every request is recorded, and so is
every body sent, byte for byte, so tests can compare bronze with what went over the wire.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fake_twitter.compliance import STORAGE, FakeCompliance
from tests.fake_twitter.compliance import invalid_request as _invalid

TWITTER_EPOCH_MS = 1288834974657

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
USAGE_CAPPED = {
    "account_id": 1234567890,
    "product_name": "standard-basic",
    "title": "UsageCapExceeded",
    "period": "Monthly",
    "scope": "Product",
    "detail": "Usage cap exceeded: Monthly product cap",
    "type": "https://api.twitter.com/2/problems/usage-capped",
}
CLIENT_NOT_ENROLLED = {
    "client_id": "27316216",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
    "from a Twitter developer App that is attached to a Project. You can create a project via the developer "
    "portal.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}
# The other documented 403 bodies (problem types of the X API v2 reference, and the v1.1-style error 453 the
# API answers a Free-tier app with on endpoints its access level lacks).
OFFICIAL_CLIENT_FORBIDDEN = {
    **CLIENT_NOT_ENROLLED,
    "detail": "This request must be made using an approved developer account that is enrolled in the "
    "requested endpoint.",
    "reason": "official-client-forbidden",
}
UNSUPPORTED_AUTHENTICATION = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
NOT_AUTHORIZED_FOR_RESOURCE = {
    "title": "Authorization Error",
    "detail": "Sorry, you are not authorized to see the user with id: [1234].",
    "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
    "resource_type": "user",
    "resource_id": "1234",
    "parameter": "id",
    "value": "1234",
    "section": "data",
    "status": 403,
}
ACCESS_LEVEL_453 = {
    "errors": [
        {
            "message": "You currently have access to a subset of X API V2 endpoints and limited v1.1 "
            "endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
            "different access level. You can learn more here: https://developer.x.com/en/portal/product",
            "code": 453,
        }
    ]
}
FORBIDDEN = {"title": "Forbidden", "detail": "Forbidden", "type": "about:blank", "status": 403}
SERVICE_UNAVAILABLE = {
    "title": "Service Unavailable",
    "detail": "Service Unavailable",
    "type": "about:blank",
    "status": 503,
}


def snowflake(ts: datetime, seq: int = 0) -> str:
    return str(((int(ts.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF))


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def make_tweets(
    n: int,
    newest: datetime,
    *,
    author_id: str = "2244994945",
    step: timedelta = timedelta(minutes=7),
    text: str = "shipping a lake &amp; a DAG 🦆 #dataengineering",
    seq: int = 0,
) -> list[dict[str, Any]]:
    """``n`` tweets, one every ``step`` back from ``newest``; real v2 shape, text HTML-escaped."""
    tag_at = text.find("#")
    out = []
    for i in range(n):
        ts = newest - step * i
        tid = snowflake(ts, seq + i)
        tweet: dict[str, Any] = {
            "edit_history_tweet_ids": [tid],
            "id": tid,
            "text": f"{text} {i}",
            "author_id": author_id,
            "created_at": iso(ts),
            "conversation_id": tid,
            "lang": "en",
            "possibly_sensitive": False,
            "public_metrics": {
                "retweet_count": i % 3,
                "reply_count": 0,
                "like_count": i,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 10 * i,
            },
        }
        if tag_at >= 0:
            tag = text[tag_at + 1 :].split()[0]
            tweet["entities"] = {"hashtags": [{"start": tag_at, "end": tag_at + 1 + len(tag), "tag": tag}]}
        out.append(tweet)
    return out


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str | None]  # None: leave the header out
    times: int  # how many more requests it answers; -1: every one
    path: str
    page: int | None
    delay: float
    when: Callable[[Request], bool] | None
    rewrite: Callable[[Request, Any], Any] | None = None  # the real answer's body -> the body served
    cut: int | None = None  # serve only the body's first ``cut`` bytes
    reset: bool = False  # with ``cut``: announce the whole body, send the cut, reset the connection


@dataclass
class Request:
    path: str
    params: dict[str, str]
    authorized: bool
    page: int
    status: int = 0
    body: bytes = b""  # what was sent (a cut body: only the part sent)
    cut: int | None = None
    reset: bool = False
    method: str = "GET"
    sent: bytes = b""  # the request's body (a POST's JSON, an upload's ids)


@dataclass
class FakeTwitter:
    """The API's state: tweets per query and per account, users, rate-limit windows, scripted faults."""

    token: str = "AAAAAAAAAAAAAAAAAAAAAFakeBearerTokenForTests0123456789abcdef"
    page_size: int | None = None  # serve shorter pages than max_results (still with next_token)
    partial_errors: bool = False
    forbidden: set[str] = field(default_factory=set)  # path fragments answered with client-not-enrolled
    limit: int = 450
    remaining: int = 450
    reset_in: float = 900.0
    clock: Callable[[], float] = time.time
    search: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    others: list[dict[str, Any]] = field(default_factory=list)  # tweets only conversation_id: queries find
    # the documented query lengths of self-serve access (docs.x.com "Search Posts: integrate"): longer, a 400
    query_max_length: int = 512
    archive_query_max_length: int = 1024
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    timelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mentions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # by media_key
    polls: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    places: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    usage: dict[str, Any] | None = None  # what GET /2/usage/tweets answers (None: 403)
    faults: list[Fault] = field(default_factory=list)
    compliance: FakeCompliance = field(default_factory=FakeCompliance)  # batch compliance jobs
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    # -- scripting ------------------------------------------------------------------------------------------
    def add_user(self, username: str, user_id: str) -> dict[str, Any]:
        user = {
            "id": user_id,
            "name": username.title(),
            "username": username,
            "created_at": "2015-03-01T09:00:00.000Z",
            "verified": False,
            "description": "data &amp; ducks 🦆",
            "location": "São Paulo",
            "public_metrics": {
                "followers_count": 1200,
                "following_count": 80,
                "tweet_count": 5000,
                "listed_count": 12,
            },
        }
        self.users[username.lower()] = user
        return user

    def attach(
        self,
        tweet: dict[str, Any],
        *,
        media: Sequence[dict[str, Any]] = (),
        poll: dict[str, Any] | None = None,
        place: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Attach media, a poll or a place to ``tweet`` (its ids in the tweet, the objects served in
        ``includes`` when the request asks for their expansion)."""
        if media:
            tweet.setdefault("attachments", {})["media_keys"] = [m["media_key"] for m in media]
            self.media.update({m["media_key"]: m for m in media})
        if poll is not None:
            tweet.setdefault("attachments", {})["poll_ids"] = [poll["id"]]
            self.polls[poll["id"]] = poll
        if place is not None:
            tweet["geo"] = {**tweet.get("geo", {}), "place_id": place["id"]}
            self.places[place["id"]] = place
        return tweet

    def fail(
        self,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        path: str = "/2/",
        page: int | None = None,
        headers: dict[str, str | None] | None = None,
        delay: float = 0.0,
        when: Callable[[Request], bool] | None = None,
        rewrite: Callable[[Request, Any], Any] | None = None,
        cut: int | None = None,
        reset: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests (``-1``: all) with ``status``/``body`` instead.

        With ``rewrite`` or ``cut`` (and no ``body``) the real answer is served, rewritten and/or cut: its
        status unless ``status`` is not 200."""
        default = {401: UNAUTHORIZED, 403: CLIENT_NOT_ENROLLED, 429: TOO_MANY, 503: SERVICE_UNAVAILABLE}
        real = body is None and (rewrite is not None or cut is not None)
        fault = Fault(
            status,
            None
            if real
            else default.get(status, {"title": "Error", "status": status})
            if body is None
            else body,
            headers or {},
            times,
            path,
            page,
            delay,
            when,
            rewrite,
            cut,
            reset,
        )
        self.faults.append(fault)
        return fault

    def rate_limit_reset(self, seconds: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(self.clock() + seconds)),
        }

    def sent(self, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if path_part in r.path]

    # -- serving --------------------------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        status, hdrs, data, _ = self.respond(method, raw_path, headers)
        return status, hdrs, data

    def respond(
        self, method: str, raw_path: str, headers: dict[str, str], sent: bytes = b""
    ) -> tuple[int, dict[str, str], bytes, Request]:
        """:meth:`handle`, and the request as recorded (the server reads from it how to cut the body)."""
        url = urlparse(raw_path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        offset = _offset(params.get("pagination_token") or params.get("next_token"))
        page = (offset or 0) // (self.page_size or self._size(params)) + 1
        authorized = headers.get("authorization") == f"Bearer {self.token}"
        req = Request(url.path, params, authorized, page, method=method, sent=sent)
        if url.path.startswith(STORAGE):  # a signed storage URL: no API headers, no rate limit
            with self.lock:
                self.requests.append(req)
                req.status, data = self.compliance.storage(method, url.path, sent, headers)
                req.body = data
            return req.status, {"content-type": "application/octet-stream"}, data, req
        with self.lock:
            self.requests.append(req)
            status, extra, body = self._answer(req)
            if status != 429 or "x-rate-limit-reset" not in extra:
                self.remaining = max(self.remaining - 1, 0)
            merged: dict[str, str | None] = {
                "content-type": "application/json; charset=utf-8",
                "x-rate-limit-limit": str(self.limit),
                "x-rate-limit-remaining": str(self.remaining),
                "x-rate-limit-reset": str(int(self.clock() + self.reset_in)),
                **extra,
            }
            hdrs = {k: v for k, v in merged.items() if v is not None}
            data = (
                body
                if isinstance(body, bytes)
                else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            )
            req.status, req.body = status, data if req.cut is None else data[: req.cut]
        return status, hdrs, data, req

    def _fault_for(self, req: Request) -> Fault | None:
        for fault in self.faults:
            if fault.times == 0 or fault.path not in req.path:
                continue
            if fault.page is not None and fault.page != req.page:
                continue
            if fault.when is not None and not fault.when(req):
                continue
            if fault.times > 0:
                fault.times -= 1
            return fault
        return None

    def _answer(self, req: Request) -> tuple[int, dict[str, str | None], Any]:
        if not req.authorized:
            return 401, {}, UNAUTHORIZED
        fault = self._fault_for(req)
        if fault is not None:
            if fault.delay:
                self.lock.release()
                try:
                    time.sleep(fault.delay)
                finally:
                    self.lock.acquire()
            if fault.body is not None:
                return fault.status, dict(fault.headers), fault.body
            status, extra, body = self._route(req)
            if fault.rewrite is not None:
                body = fault.rewrite(req, body)
            req.cut, req.reset = fault.cut, fault.reset
            return (status if fault.status == 200 else fault.status), {**extra, **fault.headers}, body
        return self._route(req)

    def _route(self, req: Request) -> tuple[int, dict[str, str | None], Any]:
        parts = req.path.strip("/").split("/")
        if parts[:3] == ["2", "compliance", "jobs"]:
            return self._compliance(req, parts)
        return self._serve(req)

    def _serve(self, req: Request) -> tuple[int, dict[str, str | None], Any]:
        """The answer of a healthy API."""
        if any(part in req.path for part in self.forbidden):
            return 403, {}, CLIENT_NOT_ENROLLED
        parts = req.path.strip("/").split("/")
        if req.path == "/2/tweets/search/recent":
            return self._search(req, horizon=True)
        if req.path == "/2/tweets/search/all":  # full-archive search: no 7-day horizon (Pro/Enterprise)
            return self._search(req, horizon=False)
        if req.path == "/2/tweets":
            return self._lookup(req)
        if req.path in COUNT_ROUTES:
            return self._count_route(req)
        if parts[:4] == ["2", "users", "by", "username"] and len(parts) == 5:
            user = self.users.get(parts[4].lower())
            if user is None:
                return (
                    200,
                    {},
                    {
                        "errors": [
                            {
                                "value": parts[4],
                                "detail": f"Could not find user with username: [{parts[4]}].",
                                "title": "Not Found Error",
                                "resource_type": "user",
                                "parameter": "username",
                                "resource_id": parts[4],
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        ]
                    },
                )
            return 200, {}, {"data": {"id": user["id"], "name": user["name"], "username": user["username"]}}
        if parts[:2] == ["2", "users"] and len(parts) == 4 and parts[3] in ("tweets", "mentions"):
            store = self.timelines if parts[3] == "tweets" else self.mentions
            return self._tweets(req, store.get(parts[2], []), horizon=False)
        return (
            404,
            {},
            {"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"},
        )

    def _compliance(self, req: Request, parts: list[str]) -> tuple[int, dict, Any]:
        """``POST /2/compliance/jobs`` and ``GET /2/compliance/jobs/:id``
        (:mod:`tests.fake_twitter.compliance`)."""
        if req.method == "POST" and len(parts) == 3:
            status, body = self.compliance.create(req.sent)
        elif req.method == "GET" and len(parts) == 4:
            status, body = self.compliance.get(parts[3])
        else:
            status, body = 405, {"title": "Method Not Allowed", "type": "about:blank", "status": 405}
        return status, {}, body

    def _search(self, req: Request, *, horizon: bool) -> tuple[int, dict, Any]:
        """Recent (``horizon``) or full-archive search: a query of ``search`` by its exact text, else an OR
        of ``conversation_id:`` terms, answered from every tweet the fake holds (streams, timelines,
        mentions, ``others``); a query longer than the access level's limit is refused with a 400."""
        query = req.params.get("query")
        if not query:
            return 400, {}, _invalid("query", "", "The `query` query parameter can not be empty")
        limit = self.query_max_length if horizon else self.archive_query_max_length
        if len(query) > limit:
            return (
                400,
                {},
                _invalid(
                    "query",
                    query,
                    "There were errors processing your request: Rule length exceeds the max allowed. Rule "
                    f"length: {len(query)}, max allowed: {limit} (at position 1)",
                ),
            )
        if query in self.search:
            return self._tweets(req, self.search[query], horizon=horizon)
        terms = query.split(" OR ")
        wanted = {t.removeprefix("conversation_id:") for t in terms if t.startswith("conversation_id:")}
        if len(wanted) != len(terms):  # not only conversation_id: terms: a query the fake does not track
            return self._tweets(req, [], horizon=horizon)
        every = {
            t["id"]: t
            for ts in (*self.search.values(), *self.timelines.values(), *self.mentions.values(), self.others)
            for t in ts
        }
        matched = [t for t in every.values() if t.get("conversation_id") in wanted]
        return self._tweets(req, matched, horizon=horizon)

    def _lookup(self, req: Request) -> tuple[int, dict, Any]:
        """``GET /2/tweets?ids=`` (1 to 100 ids): the tweets found, in the order asked, with their
        expansions; each id not found (deleted, or never) a ``resource-not-found`` error beside them, and
        a body of only ``errors`` when none is found."""
        ids = [i for i in req.params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return 400, {}, _invalid("ids", req.params.get("ids", ""), "`ids` must hold 1 to 100 ids")
        known = {
            t["id"]: t
            for corpus in (self.search, self.timelines, self.mentions)
            for ts in corpus.values()
            for t in ts
        }
        found = [known[i] for i in ids if i in known]
        errors = [
            {
                "value": i,
                "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids
            if i not in known
        ]
        body: dict[str, Any] = {}
        if found:
            authors = {t["author_id"] for t in found}
            users = [u for u in self.users.values() if u["id"] in authors]
            body = {"data": found, "includes": {"users": users, **self._includes(found, req.params)}}
        if errors:
            body["errors"] = errors
        return 200, {}, body

    def _count_route(self, req: Request) -> tuple[int, dict, Any]:
        """Recent and full-archive counts (the same corpus as search), and the project's usage."""
        if req.path == "/2/usage/tweets":
            return self._usage(req)
        if "query" not in req.params:
            return 400, {}, _invalid("query", "", "The `query` query parameter can not be empty")
        corpus = self.search.get(req.params["query"], [])
        return self._counts(req, corpus, archive=req.path == "/2/tweets/counts/all")

    def _counts(
        self, req: Request, corpus: list[dict[str, Any]], archive: bool = False
    ) -> tuple[int, dict, Any]:
        """``GET /2/tweets/counts/recent`` as documented: the matching tweets of the last 7 days (or since
        ``since_id``, which wins over ``start_time``), counted per ``granularity`` (minute, hour, day;
        default hour) in buckets on the granularity's boundaries, the first starting at ``start_time``,
        each ``{"end", "start", "tweet_count"}``; ``meta.total_tweet_count`` their sum. Recent counts
        send every bucket in one answer (no ``next_token``). ``archive``: ``GET /2/tweets/counts/all``, no
        7-day horizon (default start 30 days before the end), 31 days of buckets a page, then
        ``meta.next_token`` (the page's total only in ``total_tweet_count``)."""
        p = req.params
        now = datetime.fromtimestamp(self.clock(), UTC)
        granularity = p.get("granularity", "hour")
        step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
        if granularity not in step:
            return 400, {}, _invalid("granularity", granularity, f"Invalid 'granularity':'{granularity}'.")
        end = _ts(p["end_time"]) if "end_time" in p else now - timedelta(seconds=30)
        start = _ts(p["start_time"]) if "start_time" in p else end - timedelta(days=30 if archive else 7)
        if not archive and "start_time" in p and start < now - timedelta(days=7):
            return 400, {}, _invalid("start_time", p["start_time"], "'start_time' must be within 7 days")
        if "since_id" in p:  # since_id wins: start_time is ignored, the buckets span the 7 days
            start = end - timedelta(days=7)
        tweets = [t for t in corpus if start <= _ts(t["created_at"]) < end]
        if "since_id" in p:
            tweets = [t for t in tweets if int(t["id"]) > int(p["since_id"])]
        if "until_id" in p:
            tweets = [t for t in tweets if int(t["id"]) < int(p["until_id"])]
        floor = {
            "minute": lambda t: t.replace(second=0, microsecond=0),
            "hour": lambda t: t.replace(minute=0, second=0, microsecond=0),
            "day": lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0),
        }[granularity]
        buckets: list[dict[str, Any]] = []
        lower = start
        while lower < end:
            upper = min(floor(lower) + step[granularity], end)
            count = sum(1 for t in tweets if lower <= _ts(t["created_at"]) < upper)
            buckets.append({"end": iso(upper), "start": iso(lower), "tweet_count": count})
            lower = upper
        meta: dict[str, Any] = {}
        if archive:  # 31 days of buckets a page, the rest behind next_token
            at = _offset(p.get("next_token")) or 0
            limit = _ts(buckets[at]["start"]) + timedelta(days=31) if at < len(buckets) else end
            upto = next(
                (i for i in range(at, len(buckets)) if _ts(buckets[i]["start"]) >= limit), len(buckets)
            )
            if upto < len(buckets):
                meta["next_token"] = page_token(upto)
            buckets = buckets[at:upto]
        meta["total_tweet_count"] = sum(b["tweet_count"] for b in buckets)
        return 200, {}, {"data": buckets, "meta": meta}

    def _usage(self, req: Request) -> tuple[int, dict, Any]:
        """``GET /2/usage/tweets``: ``usage`` as scripted by a test (a ``data`` object), else a 403 as for an
        app whose project may not read it."""
        if self.usage is None:
            return 403, {}, CLIENT_NOT_ENROLLED
        return 200, {}, {"data": self.usage}

    def _size(self, params: dict[str, str]) -> int:
        return int(params.get("max_results", 10))

    def _tweets(self, req: Request, corpus: list[dict[str, Any]], *, horizon: bool) -> tuple[int, dict, Any]:
        p = req.params
        now = datetime.fromtimestamp(self.clock(), UTC)
        if horizon and "start_time" in p and _ts(p["start_time"]) < now - timedelta(days=7):
            return (
                400,
                {},
                _invalid(
                    "start_time",
                    p["start_time"],
                    f"Invalid 'start_time':'{p['start_time']}'. 'start_time' must be on or after "
                    f"{(now - timedelta(days=7)).strftime('%Y-%m-%dT%H:%MZ')}",
                ),
            )
        tweets = sorted(corpus, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in p:
            tweets = [t for t in tweets if int(t["id"]) > int(p["since_id"])]
        elif "start_time" in p:  # the API ignores start_time when since_id is given
            tweets = [t for t in tweets if _ts(t["created_at"]) >= _ts(p["start_time"])]
        if "until_id" in p:
            tweets = [t for t in tweets if int(t["id"]) < int(p["until_id"])]
        if "end_time" in p:
            tweets = [t for t in tweets if _ts(t["created_at"]) < _ts(p["end_time"])]
        size = self._size(p)
        token = p.get("pagination_token") or p.get("next_token")
        offset = _offset(token)
        if token and offset is None:
            name = "next_token" if "next_token" in p else "pagination_token"
            return 400, {}, _invalid(name, token, f"Invalid '{name}':'{token}'.")
        offset = offset or 0
        served = self.page_size or size
        chunk = tweets[offset : offset + served]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if chunk:
            meta = {"newest_id": chunk[0]["id"], "oldest_id": chunk[-1]["id"], **meta}
        if offset + served < len(tweets):
            meta["next_token"] = page_token(offset + served)
        if not chunk:
            return 200, {}, {"meta": meta}
        authors = {t["author_id"] for t in chunk}
        users = [u for u in self.users.values() if u["id"] in authors]
        body: dict[str, Any] = {"data": chunk, "includes": {"users": users, **self._includes(chunk, p)}}
        if self.partial_errors:
            missing = str(int(chunk[-1]["id"]) - 1000)
            body["errors"] = [
                {
                    "value": missing,
                    "detail": f"Could not find tweet with referenced_tweets.id: [{missing}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "referenced_tweets.id",
                    "resource_id": missing,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        body["meta"] = meta
        return 200, {}, body

    def _includes(self, chunk: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        """The media, polls and places of ``chunk``, as the API sends them: only for the expansions asked
        for, each object with its default fields and those its ``*.fields`` parameter names."""
        asked = set(params.get("expansions", "").split(","))
        attachments = [t.get("attachments", {}) for t in chunk]
        wanted = {
            "media": (
                "attachments.media_keys",
                "media.fields",
                self.media,
                [k for a in attachments for k in a.get("media_keys", [])],
                ("media_key", "type"),
            ),
            "polls": (
                "attachments.poll_ids",
                "poll.fields",
                self.polls,
                [k for a in attachments for k in a.get("poll_ids", [])],
                ("id", "options"),
            ),
            "places": (
                "geo.place_id",
                "place.fields",
                self.places,
                [t["geo"]["place_id"] for t in chunk if "place_id" in t.get("geo", {})],
                ("id", "full_name"),
            ),
        }
        out: dict[str, Any] = {}
        for name, (expansion, fields_param, store, keys, defaults) in wanted.items():
            if expansion not in asked or not keys:
                continue
            fields = {*defaults, *params.get(fields_param, "").split(",")}
            objects = [store[k] for k in dict.fromkeys(keys) if k in store]
            out[name] = [{f: v for f, v in obj.items() if f in fields} for obj in objects]
        return out


_TOKEN = re.compile(r"page-(\d+)(?:\.\w+)?")


COUNT_ROUTES = ("/2/tweets/counts/recent", "/2/tweets/counts/all", "/2/usage/tweets")


def page_token(offset: int, variant: str = "") -> str:
    """A pagination token of the fake: opaque to clients; ``variant`` makes another token for the same
    place (the API's tokens differ from page to page even when a page is empty)."""
    return f"page-{offset}" + (f".{variant}" if variant else "")


def _offset(token: str | None) -> int | None:
    """Where a token of :func:`page_token` points, or None for no token or one the fake never sent."""
    m = _TOKEN.fullmatch(token or "")
    return int(m.group(1)) if m else None


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self._respond("GET")

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self._respond("POST")

    def do_PUT(self) -> None:  # noqa: N802 - the http.server API
        self._respond("PUT")

    def _respond(self, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        received = self.rfile.read(int(headers.get("content-length") or 0))
        status, hdrs, data, req = self.server.api.respond(method, self.path, headers, received)
        sent = data if req.cut is None else data[: req.cut]
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        # A truncated body is announced at its cut length (what a proxy that cut it sends on); a reset one at
        # its whole length, then the connection is reset (RST, not FIN) after the part sent.
        self.send_header("content-length", str(len(data if req.reset else sent)))
        self.end_headers()
        self.wfile.write(sent)
        if req.reset:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeTwitter


class FakeTwitterServer:
    """Runs a :class:`FakeTwitter` on a free port of 127.0.0.1 in a thread."""

    def __init__(self, api: FakeTwitter) -> None:
        self.api = api
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.api = api
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        api.base_url = api.compliance.base_url = self.url
        # serve_forever checks for shutdown every poll_interval: the default 0.5 s was each test's teardown
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-twitter", daemon=True
        )

    def __enter__(self) -> FakeTwitterServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
