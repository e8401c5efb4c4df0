"""Fixtures: a fake Twitter API v2 server per test, and a requests session that tweepy talks to it with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from foundation.settings import Settings, load_settings
from tests.fake_twitter.server import FakeTwitter, FakeTwitterServer

API_HOST = "https://api.twitter.com"


class RewriteAdapter(HTTPAdapter):
    """Sends what tweepy addresses to https://api.twitter.com (hard-coded) to the local fake instead.

    Records the timeout of every request, so tests can check that none goes out without one.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retries=0)
        self.base_url = base_url
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url is not None and request.url.startswith(API_HOST), request.url
        request.url = self.base_url + request.url[len(API_HOST) :]
        self.timeouts.append(kwargs.get("timeout"))
        return super().send(request, **kwargs)


def session_for(base_url: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
    session.mount(API_HOST, RewriteAdapter(base_url))
    return session


@pytest.fixture
def fake_twitter() -> Iterator[FakeTwitter]:
    """A fresh fake API on a free port of 127.0.0.1, stopped after the test."""
    api = FakeTwitter()
    with FakeTwitterServer(api):
        yield api


@pytest.fixture
def twitter_session(fake_twitter: FakeTwitter) -> requests.Session:
    """A requests session whose calls to https://api.twitter.com reach ``fake_twitter``."""
    return session_for(fake_twitter.base_url)


def api_settings(lake: Path, fake: FakeTwitter, queries: str, **env: str) -> Settings:
    """Settings of an API lake at ``lake`` tracking ``queries`` (no accounts), with ``fake``'s token."""
    return load_settings(
        {
            "TWEETLAKE_LAKE": str(lake),
            "TWEETLAKE_QUERIES": queries,
            "TWEETLAKE_ACCOUNTS": "",
            "TWITTER_BEARER_TOKEN": fake.token,
            **env,
        }
    )


def cli_through_fake(
    monkeypatch: pytest.MonkeyPatch, fake: FakeTwitter, session: requests.Session, step: str
) -> None:
    """Let the CLI's ``pipeline.steps.<step>`` reach ``fake`` (through ``session``) with its token set."""
    from pipeline import steps

    monkeypatch.setenv("TWITTER_BEARER_TOKEN", fake.token)
    real = getattr(steps, step)
    monkeypatch.setattr(steps, step, lambda *a, **kw: real(*a, session=session, **kw))


def forbidden_message(fake: FakeTwitter, path: str, call: Callable[[], object]) -> str:
    """The message of the :class:`~ingestion.http.ApiError` ``call`` fails with once ``path`` answers 403
    client-not-enrolled; never with the token in it."""
    from ingestion.http import ApiError

    fake.forbidden.add(path)
    with pytest.raises(ApiError) as failed:
        call()
    message = str(failed.value)
    assert fake.token not in message
    return message
