"""Counts into the lake (``tweetlake counts``): what the counts endpoints say of each query, landed in bronze.

``GET /2/tweets/counts/recent`` (the last 7 days; tweepy's ``get_recent_tweets_count``) or, with full-archive
access, ``GET /2/tweets/counts/all`` (since 2006; ``get_all_tweets_count``) answer how many posts match a
query per bucket (``granularity`` minute, hour or day) without returning them: numbers, not posts, so they
cost no post read. Each answer lands unchanged in bronze under its own endpoint (``endpoint=counts_recent``,
``endpoint=counts_all``), one pull per query and window (run key ``counts-<granularity>-<start>-<end>``:
counting the same window again replaces its pages). The build reads them into ``silver.tweet_counts``; the
``counts_gap`` monitor compares them with the tweets collected.

Why a command of its own rather than ``tweetlake plan --record``: a plan counts the window the *next* ingest
will read (not collected yet, so it would always look like a gap) and, by its contract, writes nothing;
counts are worth keeping for windows already ingested, which is what the reconciliation needs.

Pagination: recent counts answer every bucket at once; full-archive counts send 31 days of day buckets a
page (fewer hours or minutes) with ``meta.next_token``, followed until it is absent. Requests go through the
API source's own rate limits, retries, timeouts and error messages (:meth:`ApiSource._request`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from foundation.settings import ConfigError
from ingestion.http import ApiError
from ingestion.pages import Page
from ingestion.sources.api import ApiSource, _caller, _next_token, _only_errors, api_time
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

GRANULARITIES = ("minute", "hour", "day")
RECENT, ALL = "counts_recent", "counts_all"
NO_ARCHIVE_ACCESS = (
    "full-archive counts (GET /2/tweets/counts/all) need full-archive access (pay-per-use or Enterprise, "
    "formerly Pro or Academic), which this app's token does not have. Count the last 7 days with recent "
    "counts instead: `tweetlake counts --since ... --until ...` without --all."
)


@dataclass
class CountsSource:
    """The counts of each query of ``api`` (its queries, window, client, rate limits and retries) as pulls of
    bronze pages; ``archive``: full-archive counts instead of recent ones."""

    api: ApiSource
    archive: bool = False
    granularity: str = "day"
    name: str = "api"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ConfigError(
                f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}"
            )
        if self.api.window is None:
            raise ConfigError("counts need a window: --since and --until (ISO 8601 UTC)")

    @property
    def problems(self) -> list[str]:
        return self.api.problems

    @property
    def endpoint(self) -> str:
        return ALL if self.archive else RECENT

    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        client = self.api.client()
        window = self.api._request_window()  # recent counts reach 7 days back; the end kept clear of now
        assert window is not None and self.api.window is not None
        asked_start, asked_end = self.api.window
        method = client.get_all_tweets_count if self.archive else client.get_recent_tweets_count
        key = f"counts-{self.granularity}-{_key(asked_start)}-{_key(asked_end)}"
        for query in self.api.queries:
            params = {
                "query": query,
                "granularity": self.granularity,
                "start_time": api_time(window[0]),
                "end_time": api_time(window[1]),
            }
            pull = Pull(self.endpoint, query, key, asked_start.date(), (), incremental=False)
            pull.pages = self._pages(pull, _caller(method), params)
            yield pull

    def _pages(
        self, pull: Pull, fetch: Callable[[dict[str, Any]], requests.Response], params: dict[str, Any]
    ) -> Iterator[Page]:
        token: str | None = None
        seen: set[str] = set()
        number = 0
        where = f"{self.endpoint} {pull.stream!r}"
        while True:
            number += 1
            sent = {**params, "next_token": token} if token else dict(params)
            try:
                response, doc = self.api._request(pull, self.endpoint, functools.partial(fetch, sent))
            except ApiError as exc:
                if self.archive and "403" in str(exc):
                    raise ApiError(f"{exc}\n{NO_ARCHIVE_ACCESS}") from None
                raise
            yield Page(
                response.content,
                self.endpoint,
                pull.stream,
                sent,
                http_status=response.status_code,
                rate_limit=self.api.limiter.windows.get(self.endpoint),
                tweet_count=0,  # counts are numbers, not posts: nothing is billed as read
                error_count=len(doc.get("errors") or []),
                newest_id="",
            )
            if _only_errors(doc):
                errors = doc.get("errors") or [{}]
                why = errors[0].get("detail") or errors[0].get("title") or "errors only"
                raise ApiError(
                    f"{where}: page {number} came back with only errors ({why}); it is kept in bronze, the "
                    "counts after it were not fetched. Check the query (TWEETLAKE_QUERIES or --query) and "
                    "rerun: the rerun replaces this window's pages."
                )
            token = _next_token(doc, seen, where, number)
            if not token:
                return


def _key(ts: Any) -> str:
    return api_time(ts).replace("-", "").replace(":", "")
