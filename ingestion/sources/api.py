"""The Twitter API v2 through ``tweepy``: recent search, user timelines and mentions.

Foundation version: recent search with ``next_token`` pagination and a ``since_id`` watermark. The
ingestion issue completes it (timelines, mentions, windows, rate limits, retries, timeouts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import requests
import tweepy

from ingestion.config import Secret
from ingestion.pages import Page
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

TWEET_FIELDS = (
    "created_at,author_id,conversation_id,lang,public_metrics,entities,referenced_tweets,"
    "in_reply_to_user_id,possibly_sensitive,edit_history_tweet_ids"
)
EXPANSIONS = "author_id,referenced_tweets.id,entities.mentions.username"
USER_FIELDS = "created_at,username,name,verified,public_metrics,description,location"


class ApiError(RuntimeError):
    """The API refused or failed; the message names the likely cause and never the token."""


def rate_limit_headers(response: requests.Response) -> dict[str, int] | None:
    out = {}
    for key in ("limit", "remaining", "reset"):
        value = response.headers.get(f"x-rate-limit-{key}")
        if value is not None and value.isdigit():
            out[key] = int(value)
    return out or None


@dataclass
class ApiSource:
    bearer_token: Secret
    queries: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    timeout: float = 30.0
    name: str = "api"
    session: requests.Session | None = None
    ingest_date: date = field(default_factory=lambda: datetime.now(UTC).date())

    def client(self) -> tweepy.Client:
        if not self.bearer_token:
            raise ApiError(
                "no bearer token: set TWITTER_BEARER_TOKEN (or the Airflow connection twitter_default)"
            )
        client = tweepy.Client(bearer_token=self.bearer_token.reveal(), return_type=requests.Response)
        if self.session is not None:
            client.session = self.session
        return client

    def pulls(self, watermarks: WatermarkStore) -> Iterator[Pull]:
        client = self.client()
        for query in self.queries:
            mark = watermarks.get("search_recent", query)
            key = f"since-{mark.since_id}" if mark.since_id else "since-none"
            yield Pull("search_recent", query, key, self.ingest_date,
                       self._search(client, query, mark.since_id), incremental=True)

    def _search(self, client: tweepy.Client, query: str, since_id: str | None) -> Iterator[Page]:
        token = None
        while True:
            params = {"query": query, "max_results": 100, "tweet.fields": TWEET_FIELDS,
                      "expansions": EXPANSIONS, "user.fields": USER_FIELDS}
            if since_id:
                params["since_id"] = since_id
            if token:
                params["next_token"] = token
            kwargs = {k.replace(".", "_"): v for k, v in params.items()}
            try:
                response = client.search_recent_tweets(**kwargs)
            except tweepy.Unauthorized as exc:
                raise ApiError("401 Unauthorized: the bearer token is invalid or revoked") from exc
            page = Page(response.content, "search_recent", query, params, http_status=response.status_code,
                        rate_limit=rate_limit_headers(response))
            yield page
            token = response.json().get("meta", {}).get("next_token")
            if not token:
                return
