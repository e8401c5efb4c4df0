"""The API part of the fault matrix (issue 17): tweepy over real HTTP to the fake API v2, each fault a real
lake meets, and for every one the same four checks:

1. no tweet lost, none duplicated: the tweet ids in bronze (after the faulted run, and a rerun when it
   failed) are exactly the fake's ids for what was asked, each once;
2. the watermark where it must be: its state file byte for byte unchanged by a failed run, advanced exactly
   to the newest tweet by a successful one;
3. a message that names what failed and what to do (the exception, or the warnings of an absorbed fault);
4. the bearer token nowhere: stdout/stderr, the log at DEBUG (tweepy logs request headers there), the
   exception, every file of the lake.

Each case first lands a baseline (so "unchanged" means something), then 250 new tweets (3 pages of 100) with
the fault scripted on one page. Sleeps are recorded, not slept (``tests/test_ingest_api.Run``): a 60 s
rate-limit wait costs nothing; only the read-timeout case really waits (0.2 s).
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.layout import WATERMARKS
from ingestion.http import ApiError, RateLimitError
from ingestion.ingest import IngestSummary
from ingestion.pages import stream_key
from tests.bronze_reader import all_lake_bytes, bronze
from tests.fake_twitter.server import (
    ACCESS_LEVEL_453,
    CLIENT_NOT_ENROLLED,
    FORBIDDEN,
    NOT_AUTHORIZED_FOR_RESOURCE,
    OFFICIAL_CLIENT_FORBIDDEN,
    UNSUPPORTED_AUTHENTICATION,
    USAGE_CAPPED,
    FakeTwitter,
    Request,
    make_tweets,
    page_token,
)
from tests.test_ingest_api import NOW, QUERY, SEARCH, Run

NO_RATE_LIMIT_HEADERS: dict[str, str | None] = {
    "x-rate-limit-limit": None,
    "x-rate-limit-remaining": None,
    "x-rate-limit-reset": None,
}


def old_tweets() -> list[dict[str, Any]]:
    return make_tweets(30, NOW - timedelta(hours=3))  # the baseline: one page


def new_tweets() -> list[dict[str, Any]]:
    return make_tweets(250, NOW - timedelta(minutes=10), step=timedelta(seconds=30), seq=500)  # 3 pages


def ids(tweets: list[dict[str, Any]]) -> list[str]:
    return [t["id"] for t in tweets]


def watermark_file(lake: Lake, endpoint: str = "search_recent", stream: str = QUERY) -> bytes | None:
    """The watermark's state file as stored (the layout spelled out: it is part of what is checked)."""
    rel = posixpath.join(WATERMARKS, f"endpoint={endpoint}", f"{stream_key(stream)}.json")
    return lake.read_bytes(rel) if lake.exists(rel) else None


def bronze_ids(lake: Lake, endpoint: str = "*") -> list[str]:
    """Every tweet id of every bronze page, duplicates kept (a duplicate is what this looks for)."""
    return [i for record in bronze(lake, endpoint) for i in record.tweet_ids]


@dataclass
class Scene:
    """One case's API, lake and run, and everything the token must never reach."""

    fake: FakeTwitter
    run: Run
    lake: Lake
    caplog: pytest.LogCaptureFixture
    capsys: pytest.CaptureFixture[str]
    errors: list[BaseException] = field(default_factory=list)

    def attempt(self, **options: Any) -> IngestSummary | BaseException:
        """A run; its failure returned (and kept for the secret check) rather than raised."""
        try:
            return self.run(**options)
        except (ApiError, RateLimitError) as exc:
            self.errors.append(exc)
            return exc

    def warnings(self) -> str:
        """What a person watching the run was told: progress lines (waits) and the warnings logged."""
        logged = [r.getMessage() for r in self.caplog.records if r.levelno >= logging.WARNING]
        return "\n".join(self.run.messages + logged)

    def assert_no_secret(self) -> None:
        token = self.fake.token
        out, err = self.capsys.readouterr()
        # tweepy did log the request headers at DEBUG: the check below looks where the token would be
        assert "Authorization" in self.caplog.text
        assert token not in out and token not in err
        assert token not in self.caplog.text
        for exc in self.errors:
            assert token not in str(exc) and token not in repr(exc)
        assert token.encode() not in all_lake_bytes(self.lake)


@pytest.fixture
def scene(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> Scene:
    caplog.set_level(logging.DEBUG)
    lake = Lake(str(tmp_path / "lake"))
    return Scene(fake_twitter, Run(fake_twitter, twitter_session, lake), lake, caplog, capsys)


# -- the matrix: a fault on one page of the search stream ---------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A fault, scripted after the baseline run, and what the faulted run must do.

    ``fails``: the error class the run must raise (then a rerun on a healthy API completes it), or None
    when the fault is absorbed. ``says``: a pattern the error (or, when absorbed, the warnings) must
    match: what failed and what to do. ``sleeps``: what the run must have slept, as a predicate.
    """

    arm: Callable[[FakeTwitter], object]
    fails: type[Exception] | None
    says: str
    sleeps: Callable[[list[float]], bool] = lambda slept: slept == []
    settings: dict[str, Any] = field(default_factory=dict)


def _same_token_again(req: Request, body: Any) -> Any:
    return {**body, "meta": {**body["meta"], "next_token": req.params["next_token"]}}


def _first_token_again(req: Request, body: Any) -> Any:
    return {**body, "meta": {**body["meta"], "next_token": page_token(100)}}


def _empty_page(req: Request, body: Any) -> Any:
    # The API may answer a page with no results and a next_token (a token of its own, leading on).
    return {"meta": {"result_count": 0, "next_token": page_token(100, "empty")}}


ERRORS_ONLY = {
    "errors": [
        {
            "title": "Service Unavailable",
            "detail": "Something went wrong while fetching this page. Please try again later.",
            "type": "about:blank",
        }
    ]
}

CASES: dict[str, Case] = {
    "429 with x-rate-limit-reset": Case(
        lambda f: f.fail(429, path=SEARCH, page=2, headers=f.rate_limit_reset(3)),
        None,
        r"429 Too Many Requests from search_recent: waiting [2-5]s for the window to reset at",
        lambda slept: len(slept) == 1 and 2 <= slept[0] <= 5,
    ),
    "429 without x-rate-limit headers": Case(
        lambda f: f.fail(429, path=SEARCH, page=2, headers=NO_RATE_LIMIT_HEADERS),
        None,
        r"429 Too Many Requests from search_recent without an x-rate-limit-reset header: waiting 60s",
        lambda slept: slept == [60.0],
    ),
    "429 without x-rate-limit headers, cap below the default wait": Case(
        lambda f: f.fail(429, path=SEARCH, page=2, headers=NO_RATE_LIMIT_HEADERS),
        None,
        r"429 Too Many Requests from search_recent without an x-rate-limit-reset header: waiting 30s",
        lambda slept: slept == [30.0],
        {"max_rate_limit_wait": 30.0},
    ),
    "429 with an unreadable x-rate-limit-reset": Case(
        lambda f: f.fail(
            429, path=SEARCH, page=2, headers={"x-rate-limit-reset": "Tue, 02 Dec 2025 17:00:00"}
        ),
        None,
        r"(?s)(?=.*ignoring the header x-rate-limit-reset: .*not a whole number)(?=.*429 Too Many Requests "
        r"from search_recent without an x-rate-limit-reset header: waiting 60s)",
        lambda slept: slept == [60.0],
    ),
    "429 with a reset in the past": Case(
        lambda f: f.fail(429, path=SEARCH, page=2, headers=f.rate_limit_reset(-120)),
        None,
        r"429 Too Many Requests from search_recent: the window's reset .* is already past.*waiting 1s",
        lambda slept: slept == [1.0],
    ),
    "429 with a reset beyond the cap": Case(
        lambda f: f.fail(429, path=SEARCH, page=2, headers=f.rate_limit_reset(3600)),
        RateLimitError,
        r"429 Too Many Requests from search_recent: the window resets in 36\d\ds, longer than the cap of "
        r"120s \(TWEETLAKE_MAX_RATE_LIMIT_WAIT\).*watermark is unchanged, rerun later",
    ),
    "429 UsageCapExceeded": Case(
        lambda f: f.fail(429, USAGE_CAPPED, path=SEARCH, page=2, headers=f.rate_limit_reset(30)),
        RateLimitError,
        r"Usage cap exceeded: Monthly product cap \(Monthly\). The project's monthly post cap is spent: "
        r"waiting does not help.*upgrade the access level",
    ),
    "5xx storm longer than the retries": Case(
        lambda f: f.fail(503, path=SEARCH, page=2, times=-1),
        ApiError,
        r"503 Service Unavailable from search_recent: Service Unavailable; gave up after 6 attempts\..*"
        r"watermark is unchanged.*[Rr]erun",
        lambda slept: len(slept) == 5,
    ),
    "read timeout": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, delay=0.5, rewrite=lambda req, body: body),
        None,
        r"ReadTimeout calling search_recent: .*[Rr]ead timed out.*; retry 1 of 5",
        lambda slept: len(slept) == 1,
        {"request_timeout": 0.2},
    ),
    "connection reset mid-body": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, cut=3000, reset=True),
        None,
        r"(ChunkedEncodingError|ConnectionError) calling search_recent: .*; retry 1 of 5",
        lambda slept: len(slept) == 1,
    ),
    "200 with a truncated body": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, cut=3000),
        None,
        r"200 from search_recent with a body that is not a response page .*; retry 1 of 5",
        lambda slept: len(slept) == 1,
    ),
    "200 with a truncated body, every time": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, cut=3000, times=-1),
        ApiError,
        r"200 from search_recent with a body that is not a response page .*gave up after 6 attempts.*"
        r"[Rr]erun",
        lambda slept: len(slept) == 5,
    ),
    "200 with only errors, mid-pagination": Case(
        lambda f: f.fail(200, ERRORS_ONLY, path=SEARCH, page=2),
        ApiError,
        r"search_recent '#duckdb lang:en -is:retweet': page 2 came back with only errors \(Service "
        r"Unavailable: Something went wrong.*\).*pages after it were not fetched.*watermark is unchanged.*"
        r"[Rr]erun",
    ),
    "401": Case(
        lambda f: f.fail(401, path=SEARCH, page=2),
        ApiError,
        r"401 Unauthorized from search_recent: the bearer token was rejected.*check TWITTER_BEARER_TOKEN",
    ),
    "403 client-not-enrolled": Case(
        lambda f: f.fail(403, CLIENT_NOT_ENROLLED, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: .*\(reason: client-not-enrolled\).*attached to a Project in the "
        r"developer portal",
    ),
    "403 official-client-forbidden": Case(
        lambda f: f.fail(403, OFFICIAL_CLIENT_FORBIDDEN, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: .*\(reason: official-client-forbidden\).*use the keys and token "
        r"of an App enrolled for this endpoint",
    ),
    "403 unsupported-authentication": Case(
        lambda f: f.fail(403, UNSUPPORTED_AUTHENTICATION, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: the endpoint does not accept an app-only bearer token "
        r"\(unsupported-authentication\).*user context",
    ),
    "403 not-authorized-for-resource": Case(
        lambda f: f.fail(403, NOT_AUTHORIZED_FOR_RESOURCE, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: not authorized for the resource \(not-authorized-for-resource\)"
        r".*protected or suspended.*TWEETLAKE_ACCOUNTS",
    ),
    "403 453 access level": Case(
        lambda f: f.fail(403, ACCESS_LEVEL_453, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: this app's access level does not include the endpoint "
        r"\(error 453\).*Basic access or higher",
    ),
    "403 plain Forbidden": Case(
        lambda f: f.fail(403, FORBIDDEN, path=SEARCH, page=2),
        ApiError,
        r"403 Forbidden from search_recent: the token is valid but may not make this request.*developer "
        r"portal",
    ),
    "next_token returned twice in a row": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, rewrite=_same_token_again),
        ApiError,
        r"search_recent '#duckdb lang:en -is:retweet': the API sent the same next_token twice \(page-100\) "
        r"at page 2; stopping rather than looping.*watermark is unchanged.*[Rr]erun",
    ),
    "next_token of two pages back": Case(
        lambda f: f.fail(200, path=SEARCH, page=3, rewrite=_first_token_again),
        ApiError,
        r"the API sent the same next_token twice \(page-100\) at page 3; stopping rather than looping",
    ),
    "empty page mid-pagination": Case(
        lambda f: f.fail(200, path=SEARCH, page=2, rewrite=_empty_page),
        None,
        "",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_fault_on_the_api_loses_and_duplicates_nothing(name: str, scene: Scene) -> None:
    case = CASES[name]
    fake, run = scene.fake, scene.run
    run.settings = run.settings.with_overrides(**case.settings)
    fake.search[QUERY] = old_tweets()
    baseline = scene.attempt()
    assert isinstance(baseline, IngestSummary) and baseline.tweets == 30
    before = watermark_file(scene.lake)
    assert before is not None
    fake.search[QUERY] += new_tweets()
    case.arm(fake)
    run.sleeps.clear()

    outcome = scene.attempt()

    assert case.sleeps(run.sleeps), run.sleeps
    if case.fails is None:
        assert isinstance(outcome, IngestSummary), outcome
        assert re.search(case.says, scene.warnings()), scene.warnings()
    else:
        assert isinstance(outcome, case.fails), outcome
        assert re.search(case.says, str(outcome), re.S), str(outcome)
        assert watermark_file(scene.lake) == before  # byte for byte: not rewritten, not moved
        fake.faults.clear()  # the API is healthy again: the rerun completes the same run key
        outcome = scene.attempt()
        assert isinstance(outcome, IngestSummary), outcome
        assert outcome.runs[0].run_key == baseline.runs[0].run_key.replace("none", max(ids(old_tweets())))

    truth = ids(fake.search[QUERY])
    landed = bronze_ids(scene.lake)
    assert sorted(landed) == sorted(truth) and len(landed) == len(set(landed)) == 280
    assert run.watermark() == max(truth, key=int)
    if name == "empty page mid-pagination":
        assert (outcome.pages, outcome.runs[0].empty_pages, outcome.tweets) == (4, 1, 250)
    scene.assert_no_secret()


# -- a 200 with only errors on a stream's first page: an answer, not a failure -------------------------------
def test_an_errors_only_answer_on_a_first_page_skips_that_stream_and_says_why(scene: Scene) -> None:
    fake = scene.fake
    fake.add_user("duckdev", "2244994945")
    fake.add_user("locked", "1234")
    fake.timelines["2244994945"] = make_tweets(40, NOW - timedelta(hours=1))
    fake.timelines["1234"] = make_tweets(5, NOW - timedelta(hours=2), author_id="1234")
    fake.mentions["2244994945"] = fake.mentions["1234"] = []
    # What the API answers for the timeline of a protected or suspended account: a 200, errors only.
    denied = {k: v for k, v in NOT_AUTHORIZED_FOR_RESOURCE.items() if k != "status"}
    fake.fail(200, {"errors": [denied]}, path="/2/users/1234/tweets", times=-1)
    scene.run.settings = scene.run.settings.with_overrides(queries=(), accounts=("locked", "duckdev"))

    summary = scene.attempt()

    assert isinstance(summary, IngestSummary)
    assert sorted(bronze_ids(scene.lake, "user_tweets")) == sorted(ids(fake.timelines["2244994945"]))
    assert scene.run.watermark("user_tweets", "duckdev") == max(ids(fake.timelines["2244994945"]), key=int)
    assert watermark_file(scene.lake, "user_tweets", "locked") is None
    [problem] = summary.problems
    assert re.search(
        r"user_tweets 'locked': the API answered with only errors \(Authorization Error: Sorry, you are not "
        r"authorized to see the user with id: \[1234\]\.\): nothing pulled.*protected or suspended.*"
        r"TWEETLAKE_ACCOUNTS",
        problem,
    ), problem
    # bronze keeps the answer as it came (raw responses), counted as an error page
    [answer] = [r for r in bronze(scene.lake, "user_tweets") if r.envelope["stream"] == "locked"]
    assert answer.response == {"errors": [denied]}
    scene.assert_no_secret()


# -- tweets outside the window -------------------------------------------------------------------------------
# Decision: bronze lands responses unchanged, so tweets the API puts outside what was asked stay in bronze
# (counted, once per page they came in); silver decides what a table holds. The watermark is another matter:
# a since_id past the window's end skips, forever, every tweet between that end and it, so it advances only
# to the newest tweet inside the window (incremental runs: minted before the page was fetched).
def _outside(extra: list[dict[str, Any]]) -> Callable[[Request, Any], Any]:
    def rewrite(req: Request, body: Any) -> Any:
        return {**body, "data": extra[:1] + body["data"] + extra[1:]}

    return rewrite


def test_tweets_outside_an_incremental_window_land_raw_and_do_not_move_the_watermark(scene: Scene) -> None:
    fake, run = scene.fake, scene.run
    fake.search[QUERY] = old_tweets()
    assert isinstance(scene.attempt(), IngestSummary)
    fake.search[QUERY] += new_tweets()
    future = make_tweets(1, NOW + timedelta(days=1), seq=900)  # a snowflake minted tomorrow
    resent = old_tweets()[:1]  # at or below the since_id: already ingested
    fake.fail(200, path=SEARCH, page=1, rewrite=_outside(future + resent))

    summary = scene.attempt()

    assert isinstance(summary, IngestSummary) and summary.tweets == 252
    landed = bronze_ids(scene.lake)
    assert sorted(landed) == sorted(ids(fake.search[QUERY]) + ids(future + resent))
    assert run.watermark() == max(ids(new_tweets()), key=int)  # not tomorrow's id
    assert re.search(
        r"search_recent '#duckdb lang:en -is:retweet' page 1: 2 tweet\(s\) outside the requested window "
        r".*kept in bronze as received; the watermark ignores them",
        scene.warnings(),
    ), scene.warnings()

    # The proof that it matters: a tweet posted after the run is still fetched by the next one.
    later = make_tweets(1, NOW - timedelta(minutes=1), seq=950)
    fake.search[QUERY] += later
    again = scene.attempt()
    assert isinstance(again, IngestSummary) and again.tweets == 1
    assert fake.sent(SEARCH)[-1].params["since_id"] == max(ids(new_tweets()), key=int)
    assert run.watermark() == later[0]["id"]
    scene.assert_no_secret()


def test_tweets_outside_a_window_land_raw_and_leave_the_watermark_alone(scene: Scene) -> None:
    fake = scene.fake
    fake.search[QUERY] = old_tweets()
    assert isinstance(scene.attempt(), IngestSummary)
    before = watermark_file(scene.lake)
    start = (NOW - timedelta(days=1)).replace(minute=0, second=0)
    end = start + timedelta(hours=2)
    inside = make_tweets(20, end - timedelta(minutes=1), step=timedelta(minutes=5), seq=300)
    fake.search[QUERY] += inside
    outside = [
        {**make_tweets(1, end + timedelta(minutes=30), seq=800)[0]},
        {**make_tweets(1, start - timedelta(minutes=30), seq=801)[0]},
    ]
    fake.fail(200, path=SEARCH, page=1, rewrite=_outside(outside))

    summary = scene.attempt(start_time=start, end_time=end)

    assert isinstance(summary, IngestSummary) and summary.tweets == 22
    landed = bronze_ids(scene.lake)
    assert sorted(landed) == sorted(ids(old_tweets()) + ids(inside) + ids(outside))
    assert len(landed) == len(set(landed))
    assert watermark_file(scene.lake) == before  # a window never moves the since_id watermark
    assert re.search(r"page 1: 2 tweet\(s\) outside the requested window", scene.warnings())
    assert datetime.fromisoformat(outside[0]["created_at"]) > end.astimezone(UTC)
    scene.assert_no_secret()
