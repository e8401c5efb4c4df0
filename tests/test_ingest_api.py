"""The API source end to end: tweepy -> real HTTP -> a fake Twitter API v2 on 127.0.0.1 -> bronze.

Rate-limit waits and backoffs run through the real code paths; only ``sleep`` is replaced (recorded) so no
test waits for a real window.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import ConfigError, Secret, Settings
from ingestion.http import ApiError, RateLimitError
from ingestion.ingest import ingest
from ingestion.pages import snowflake_time
from ingestion.progress import Reporter
from ingestion.sources import make_source
from ingestion.sources.api import EXPANSIONS, FIELDS
from ingestion.watermarks import WatermarkStore
from tests.bronze_reader import all_lake_bytes, bronze
from tests.fake_twitter.fixtures import session_for
from tests.fake_twitter.server import USAGE_CAPPED, FakeTwitter, make_tweets

QUERY = "#duckdb lang:en -is:retweet"
NOW = datetime.now(UTC).replace(microsecond=0)
SEARCH = "/2/tweets/search/recent"


def settings(lake: Lake, token: str, **changes: Any) -> Settings:
    base = Settings(
        lake=lake.root,
        s3_endpoint=lake.s3_endpoint,
        queries=(QUERY,),
        accounts=(),
        bearer_token=Secret(token),
        request_timeout=5.0,
        max_rate_limit_wait=120.0,
    )
    return base.with_overrides(**changes) if changes else base


class Run:
    """One configured API ingest against the fake; records sleeps and what the reporter was told."""

    def __init__(self, fake: FakeTwitter, session: requests.Session, lake: Lake, **changes: Any) -> None:
        self.fake, self.session, self.lake = fake, session, lake
        self.settings = settings(lake, fake.token, **changes)
        self.sleeps: list[float] = []
        self.messages: list[str] = []

    def source(self, **options: Any) -> Any:
        return make_source("api", self.settings, session=self.session, sleep=self.sleeps.append, **options)

    def __call__(self, **options: Any) -> Any:
        source = self.source(**options)
        self.last_source = source
        reporter = Reporter(emit=self.messages.append, tty=False)
        return ingest(source, self.lake, reporter=reporter)

    def watermark(self, endpoint: str = "search_recent", stream: str = QUERY) -> str | None:
        return WatermarkStore(self.lake).get(endpoint, stream).since_id


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    return request.getfixturevalue("s3_bucket").lake()


@pytest.fixture
def local_lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


# -- the full object model -------------------------------------------------------------------------------
PHOTO = {
    "media_key": "3_1765036311029051393",
    "type": "photo",
    "width": 2048,
    "height": 1536,
    "url": "https://pbs.twimg.com/media/GH5b1xWaQAEp2nM.jpg",
    "alt_text": "Na Pali coast",
}
VIDEO = {
    "media_key": "13_1263145212760805376",
    "type": "video",
    "duration_ms": 46947,
    "width": 1920,
    "height": 1080,
    "preview_image_url": "https://pbs.twimg.com/media/EYeX7akWsAIP1_1.jpg",
    "public_metrics": {"view_count": 6909260},
    "variants": [{"bit_rate": 632000, "content_type": "video/mp4", "url": "https://video.twimg.com/v.mp4"}],
    "non_public_metrics": {"playback_0_count": 1561},
}  # never served: needs user context
POLL = {
    "id": "1199786642468413448",
    "voting_status": "closed",
    "duration_minutes": 1440,
    "end_datetime": "2019-11-28T20:26:41.000Z",
    "options": [
        {"position": 1, "label": "C Sharp", "votes": 795},
        {"position": 2, "label": "C Hashtag", "votes": 156},
    ],
}
PLACE = {
    "id": "01a9a39529b27f36",
    "full_name": "Manhattan, NY",
    "name": "Manhattan",
    "place_type": "city",
    "country": "United States",
    "country_code": "US",
    "geo": {"type": "Feature", "bbox": [-74.026675, 40.683935, -73.910408, 40.877483], "properties": {}},
}


def test_every_endpoint_asks_for_the_full_object_model_and_lands_its_expansions(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.add_user("duckdev", "2244994945")
    tweets = make_tweets(4, NOW - timedelta(hours=1))
    fake_twitter.attach(tweets[0], media=[PHOTO, VIDEO])
    fake_twitter.attach(tweets[1], poll=POLL)
    fake_twitter.attach(tweets[2], place=PLACE)
    fake_twitter.search[QUERY] = tweets
    fake_twitter.timelines["2244994945"] = tweets[:2]
    fake_twitter.mentions["2244994945"] = tweets[2:]
    run = Run(fake_twitter, twitter_session, local_lake, accounts=("duckdev",))

    summary = run()

    calls = [c for c in fake_twitter.requests if "/by/username/" not in c.path]
    assert [c.path for c in calls] == [SEARCH, "/2/users/2244994945/tweets", "/2/users/2244994945/mentions"]
    for call in calls:
        assert {k: call.params[k] for k in FIELDS} == FIELDS
        asked = {f for k in FIELDS for f in call.params[k].split(",")}
        assert {"note_tweet", "edit_controls", "context_annotations", "variants", "verified_type"} <= asked
        assert not asked & {"non_public_metrics", "organic_metrics", "promoted_metrics", "connection_status"}
    assert summary.tweets == 4 + 2 + 2
    includes = {r.envelope["endpoint"]: r.response["includes"] for r in bronze(local_lake)}
    video = {k: v for k, v in VIDEO.items() if k != "non_public_metrics"}
    assert includes["search_recent"]["media"] == [PHOTO, video]
    assert includes["search_recent"]["polls"] == [POLL] and includes["search_recent"]["places"] == [PLACE]
    assert includes["user_tweets"]["media"] == [PHOTO, video] and "places" not in includes["user_tweets"]
    assert includes["user_mentions"]["places"] == [PLACE] and "media" not in includes["user_mentions"]


# -- pagination, incremental, windows -------------------------------------------------------------------
def test_search_follows_short_pages_and_lands_bodies_byte_for_byte(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(250, NOW - timedelta(hours=1))
    fake_twitter.page_size = 97  # fewer than max_results=100, with a next_token: must still be followed
    run = Run(fake_twitter, twitter_session, lake)

    summary = run()

    calls = fake_twitter.sent(SEARCH)
    assert [len(r.params.get("next_token", "")) > 0 for r in calls] == [False, True, True]
    assert calls[0].params["max_results"] == "100"
    assert set(calls[0].params["tweet.fields"].split(",")) >= {
        "created_at",
        "author_id",
        "conversation_id",
        "lang",
        "public_metrics",
        "entities",
        "referenced_tweets",
        "in_reply_to_user_id",
        "possibly_sensitive",
        "edit_history_tweet_ids",
    }
    assert calls[0].params["expansions"] == EXPANSIONS
    assert "since_id" not in calls[0].params
    assert (summary.pages, summary.tweets) == (3, 250)
    records = bronze(lake)
    assert [r.body for r in records] == [c.body for c in calls]  # exactly what went over the wire
    assert [r.envelope["page_number"] for r in records] == [1, 2, 3]
    assert records[1].envelope["request"]["next_token"] == calls[1].params["next_token"]
    assert records[0].envelope["rate_limit"]["limit"] == 450
    assert all(r.envelope["run_key"] == "since-none" for r in records)
    newest = max(int(t["id"]) for t in fake_twitter.search[QUERY])
    assert run.watermark() == str(newest)

    # The next run continues from the watermark and sees only what is new.
    fake_twitter.search[QUERY] += make_tweets(5, NOW - timedelta(minutes=10), seq=1000)
    again = run()
    assert fake_twitter.sent(SEARCH)[-1].params["since_id"] == str(newest)
    assert (again.pages, again.tweets) == (1, 5)
    assert again.runs[0].run_key == f"since-{newest}"
    assert int(run.watermark() or 0) > newest
    assert len(bronze(lake)) == 4


def test_timelines_and_mentions_resolve_the_account_and_use_pagination_token(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.add_user("duckdb", "1234")
    fake_twitter.timelines["1234"] = make_tweets(150, NOW - timedelta(hours=2), author_id="1234")
    fake_twitter.mentions["1234"] = make_tweets(30, NOW - timedelta(hours=3), text="@duckdb thanks 🦆")
    run = Run(fake_twitter, twitter_session, local_lake, queries=(), accounts=("@duckdb", "nobody_here"))

    summary = run()

    assert len(fake_twitter.sent("/2/users/by/username/duckdb")) == 1  # looked up once for both endpoints
    timeline = fake_twitter.sent("/2/users/1234/tweets")
    assert [("pagination_token" in r.params) for r in timeline] == [False, True]
    assert all("next_token" not in r.params for r in timeline)
    by_endpoint = {(r.endpoint, r.stream): r.tweets for r in summary.runs}
    assert by_endpoint[("user_tweets", "duckdb")] == 150
    assert by_endpoint[("user_mentions", "duckdb")] == 30
    assert run.watermark("user_tweets", "duckdb") == max(t["id"] for t in fake_twitter.timelines["1234"])
    assert run.watermark("user_mentions", "duckdb") == max(t["id"] for t in fake_twitter.mentions["1234"])
    # The unknown account is a problem, not a crash; user lookups are not tweet pages: not in bronze.
    assert any("nobody_here" in p and "Could not find user" in p for p in summary.problems)
    assert {r.envelope["endpoint"] for r in bronze(local_lake)} == {"user_tweets", "user_mentions"}
    assert bronze(local_lake, "user_tweets")[0].envelope["request"]["user_id"] == "1234"


def test_a_window_is_its_own_idempotent_run_and_leaves_watermarks_alone(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(60, NOW - timedelta(hours=1), step=timedelta(minutes=30))
    start = (NOW - timedelta(days=1)).replace(minute=0, second=0)
    end = start + timedelta(hours=6)
    run = Run(fake_twitter, twitter_session, lake)

    first = run(start_time=start.isoformat().replace("+00:00", "Z"), end_time=end)
    call = fake_twitter.sent(SEARCH)[0]
    assert call.params["start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert call.params["end_time"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "since_id" not in call.params
    expected = [
        t for t in fake_twitter.search[QUERY] if start <= datetime.fromisoformat(t["created_at"]) < end
    ]
    assert first.tweets == len(expected) == 12
    key = f"window-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"
    assert first.runs[0].run_key == key and first.runs[0].ingest_date == start.date().isoformat()
    assert run.watermark() is None

    second = run(start_time=start, end_time=end)  # a rerun of the same interval replaces, never adds
    assert second.runs[0].replaced == [] and second.runs[0].objects == first.runs[0].objects
    ids = [i for r in bronze(lake) for i in r.tweet_ids]
    assert sorted(ids) == sorted(t["id"] for t in expected)


def test_recent_search_refuses_a_window_older_than_seven_days(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    run = Run(fake_twitter, twitter_session, local_lake)
    with pytest.raises(ConfigError, match="7 days"):
        run(start_time=NOW - timedelta(days=8), end_time=NOW - timedelta(days=7, hours=20))
    assert fake_twitter.requests == []
    with pytest.raises(ConfigError, match="both"):
        run.source(start_time=NOW - timedelta(days=1))


def test_a_watermark_beyond_the_search_horizon_falls_back_to_start_time(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    old = make_tweets(1, NOW - timedelta(days=9))[0]["id"]
    WatermarkStore(local_lake).advance("search_recent", QUERY, old, "since-none")
    fake_twitter.search[QUERY] = make_tweets(3, NOW - timedelta(hours=1))
    summary = Run(fake_twitter, twitter_session, local_lake)()
    params = fake_twitter.sent(SEARCH)[0].params
    assert "since_id" not in params
    assert datetime.fromisoformat(params["start_time"].replace("Z", "+00:00")) > NOW - timedelta(days=7)
    assert summary.tweets == 3 and summary.runs[0].run_key == f"since-{old}"
    assert snowflake_time(old) < NOW - timedelta(days=8)


def test_empty_results_and_partial_errors_are_kept_and_counted(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(120, NOW - timedelta(hours=1))
    fake_twitter.partial_errors = True
    run = Run(fake_twitter, twitter_session, local_lake, queries=(QUERY, "nothing matches this"))
    summary = run()
    assert summary.partial_errors == 2  # one per page of the first query, kept, not fatal
    assert all(r.response.get("errors") for r in bronze(local_lake) if r.response.get("data"))
    empty = [r for r in summary.runs if r.stream == "nothing matches this"][0]
    assert (empty.pages, empty.tweets, empty.empty_pages) == (1, 0, 1)
    assert run.watermark(stream="nothing matches this") is None


# -- rate limits ---------------------------------------------------------------------------------------------
def test_a_429_waits_for_the_reset_with_a_visible_message_then_continues(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(250, NOW - timedelta(hours=1))
    fake_twitter.fail(429, path=SEARCH, page=2, headers=fake_twitter.rate_limit_reset(3))
    run = Run(fake_twitter, twitter_session, local_lake)

    summary = run()

    assert len(run.sleeps) == 1 and 2 <= run.sleeps[0] <= 5
    assert summary.rate_limit_waits == 1 and summary.runs[0].rate_limit_waits == 1
    assert any("429" in m and "waiting" in m for m in run.messages)
    assert (summary.pages, summary.tweets) == (3, 250)
    assert [r.status for r in fake_twitter.sent(SEARCH)] == [200, 429, 200, 200]


def test_a_spent_window_is_waited_for_before_the_next_request(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(150, NOW - timedelta(hours=1))
    fake_twitter.remaining, fake_twitter.reset_in = 1, 4  # the first answer says: 0 left, reset in 4 s
    run = Run(fake_twitter, twitter_session, local_lake)
    summary = run()
    assert len(run.sleeps) == 1 and 3 <= run.sleeps[0] <= 6
    assert summary.rate_limit_waits == 1 and summary.tweets == 150
    assert all(r.status == 200 for r in fake_twitter.requests)  # waited instead of hitting a 429


@pytest.mark.parametrize(
    "scenario",
    ["still 429 after the wait", "reset beyond the cap", "usage cap exceeded"],
)
def test_a_429_that_does_not_clear_fails_without_moving_the_watermark(
    scenario: str, fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(250, NOW - timedelta(hours=1))
    if scenario == "still 429 after the wait":
        fake_twitter.fail(429, path=SEARCH, page=2, times=2, headers=fake_twitter.rate_limit_reset(2))
        expected, sleeps = "again after waiting", 1
    elif scenario == "reset beyond the cap":
        fake_twitter.fail(429, path=SEARCH, page=2, headers=fake_twitter.rate_limit_reset(3600))
        expected, sleeps = "longer than the cap of 120s", 0
    else:
        fake_twitter.fail(429, USAGE_CAPPED, path=SEARCH, page=2, headers=fake_twitter.rate_limit_reset(30))
        expected, sleeps = "Usage cap exceeded: Monthly product cap", 0
    run = Run(fake_twitter, twitter_session, local_lake)

    with pytest.raises(RateLimitError, match=expected) as failure:
        run()

    assert "watermark is unchanged" in str(failure.value)
    assert len(run.sleeps) == sleeps
    assert run.watermark() is None
    assert [r.envelope["page_number"] for r in bronze(local_lake)] == [1]  # what was fetched is kept


# -- failures, retries, timeouts -----------------------------------------------------------------------------
def test_5xx_is_retried_with_exponential_backoff(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(150, NOW - timedelta(hours=1))
    fake_twitter.fail(503, path=SEARCH, page=2, times=2)
    fake_twitter.fail(500, {"title": "Internal Server Error"}, path=SEARCH, page=1, times=1)
    run = Run(fake_twitter, twitter_session, local_lake)
    summary = run()
    assert summary.tweets == 150 and summary.rate_limit_waits == 0
    first, second, third = run.sleeps
    # Base 1 s, doubling per retry of the same request, jittered to 50-100%.
    assert 0.5 <= first <= 1.0 and 0.5 <= second <= 1.0 and 1.0 <= third <= 2.0


def test_a_run_that_crashes_on_page_3_of_5_is_rerun_without_loss_or_duplicates(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(500, NOW - timedelta(hours=1))
    fake_twitter.fail(503, path=SEARCH, page=3, times=-1)  # permanently broken from page 3 on
    run = Run(fake_twitter, twitter_session, lake)

    with pytest.raises(ApiError, match="503 Service Unavailable.*gave up after 6 attempts"):
        run()
    assert run.watermark() is None
    assert [r.envelope["page_number"] for r in bronze(lake)] == [1, 2]
    assert len(run.sleeps) == 5

    fake_twitter.faults.clear()  # the API is healthy again
    summary = run()
    records = bronze(lake)
    assert [r.envelope["page_number"] for r in records] == [1, 2, 3, 4, 5]
    assert {r.envelope["run_key"] for r in records} == {"since-none"}
    ids = [i for r in records for i in r.tweet_ids]
    assert len(ids) == len(set(ids)) == 500
    assert summary.runs[0].replaced == []  # the partial object was overwritten by the same name
    assert run.watermark() == max(t["id"] for t in fake_twitter.search[QUERY])


def test_every_request_has_the_timeout_and_a_slow_answer_is_retried(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(20, NOW - timedelta(hours=1))
    fake_twitter.fail(200, {"meta": {"result_count": 0}}, path=SEARCH, delay=0.8)  # answers too late once
    run = Run(fake_twitter, twitter_session, local_lake, request_timeout=0.25)
    summary = run()
    adapter = twitter_session.get_adapter("https://api.twitter.com/2/")
    assert adapter.timeouts == [0.25, 0.25]
    assert len(run.sleeps) == 1 and summary.tweets == 20


def test_connection_errors_are_retried_then_fail_clearly(local_lake: Lake) -> None:
    fake = FakeTwitter()
    session = session_for("http://127.0.0.1:9")  # nothing listens there
    run = Run(fake, session, local_lake)
    with pytest.raises(ApiError, match="ConnectionError calling search_recent.*gave up after 6 attempts"):
        run()
    assert len(run.sleeps) == 5 and run.watermark() is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "401 Unauthorized from search_recent: the bearer token was rejected"),
        (403, "access level does not include the endpoint \\(reason: client-not-enrolled\\)"),
    ],
)
def test_auth_errors_name_the_likely_cause(
    status: int, expected: str, fake_twitter: FakeTwitter, twitter_session: requests.Session, local_lake: Lake
) -> None:
    fake_twitter.search[QUERY] = make_tweets(5, NOW)
    if status == 403:
        fake_twitter.forbidden.add(SEARCH)
    token = fake_twitter.token if status == 403 else "AAAAAAAAAAAAAAAAAAAAARevokedTokenX%2Fy9z"
    run = Run(fake_twitter, twitter_session, local_lake, bearer_token=Secret(token))
    with pytest.raises(ApiError, match=expected) as failure:
        run()
    assert token not in str(failure.value) and run.sleeps == []


def test_the_token_never_reaches_bronze_errors_reprs_or_logs(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    local_lake: Lake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # tweepy logs request headers (the token) at DEBUG
    fake_twitter.search[QUERY] = make_tweets(150, NOW - timedelta(hours=1))
    fake_twitter.fail(503, path=SEARCH, page=2)
    run = Run(fake_twitter, twitter_session, local_lake)
    run()
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # tweepy did log the headers
    wrong = "AAAAAAAAAAAAAAAAAAAAAWrongToken0123456789"
    bad = Run(fake_twitter, twitter_session, local_lake, bearer_token=Secret(wrong))
    with pytest.raises(ApiError) as failure:
        bad()

    for token in (fake_twitter.token, wrong):
        assert token not in caplog.text
        assert token.encode() not in all_lake_bytes(local_lake)
        assert token not in str(failure.value) and token not in repr(failure.value)
        assert token not in repr(run.last_source) and token not in repr(bad.settings)
    assert "Bearer ********" in caplog.text
