"""``GET /2/usage/tweets`` (no tweepy method: the client's own ``request``) through tweepy's session over
real HTTP to the fake API v2 server: shown by ``tweetlake plan`` and kept beside the spend ledger; a 403 is
recorded as not available and fails nothing; a 429 is waited out like any other call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from foundation.lake import Lake
from foundation.settings import Secret, Settings
from ingestion import usage
from pipeline import steps
from tests.fake_twitter.server import FakeTwitter

NOW = datetime.now(UTC)
PATH = "/2/usage/tweets"


def project_usage() -> dict[str, Any]:
    """An answer shaped as the X docs show it: numbers as strings of digits, a day's usage per app."""
    days = [(NOW - timedelta(days=i)).strftime("%Y-%m-%dT00:00:00.000Z") for i in range(3, -1, -1)]
    return {
        "cap_reset_day": 19,
        "project_cap": "2000000",
        "project_id": "1369785403853424",
        "project_usage": "43435",
        "daily_project_usage": {
            "project_id": "1369785403853424",
            "usage": [{"date": d, "usage": str(100 * (n + 1))} for n, d in enumerate(days)],
        },
        "daily_client_app_usage": [{"client_app_id": "27316216", "usage": [], "usage_result_count": 4}],
    }


def settings_for(lake: Path, fake: FakeTwitter) -> Settings:
    return Settings(lake=str(lake), queries=("#duckdb",), accounts=(), bearer_token=Secret(fake.token))


def test_the_plan_shows_and_records_the_project_s_usage(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.usage = project_usage()
    settings = settings_for(tmp_path / "lake", fake_twitter)
    plan = steps.run_plan(settings, session=twitter_session, sleep=lambda _: None)

    [sent] = fake_twitter.sent(PATH)
    assert sent.params["days"] == "90" and "daily_project_usage" in sent.params["usage.fields"]
    out = plan.describe()
    assert "43,435 posts this cycle of the project's cap of 2,000,000, resets on day 19" in out
    assert f"{NOW:%Y-%m-%d} 400" in out  # the newest day, from the API's own daily usage
    [kept] = usage.recorded(Lake(settings.lake))
    assert kept.available and kept.data == fake_twitter.usage  # as received
    assert usage.daily_usage(Lake(settings.lake))[f"{NOW:%Y-%m-%d}"] == 400


def test_a_project_without_access_is_recorded_as_not_available(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "lake", fake_twitter)  # fake_twitter.usage None: a 403
    plan = steps.run_plan(settings, session=twitter_session, sleep=lambda _: None)
    [kept] = usage.recorded(Lake(settings.lake))
    assert not kept.available and "403" in kept.reason and kept.data == {}
    assert "not available (this app's project may not read its usage (403)" in plan.describe()
    assert fake_twitter.token not in kept.reason


def test_a_429_on_usage_is_waited_out(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.usage = project_usage()
    fake_twitter.fail(429, path=PATH, headers=fake_twitter.rate_limit_reset(10))
    sleeps: list[float] = []
    settings = settings_for(tmp_path / "lake", fake_twitter)
    steps.run_plan(settings, session=twitter_session, sleep=sleeps.append)
    assert [r.status for r in fake_twitter.sent(PATH)] == [429, 200] and 5 <= max(sleeps) <= 20
    assert usage.recorded(Lake(settings.lake))[0].available
