"""``--conversations``: an API ingest follows the conversations of the tweets it lands, many to a recent
search query (``conversation_id:1 OR conversation_id:2 ...``) up to the query-length limit; the budgets stop
it like any pull; a query the API finds too long is a clear error. tweepy over real HTTP to the fake API."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import ConfigError, Secret, Settings, load_settings
from ingestion.conversations import ConversationStore, Origin, pack, query_of
from ingestion.http import ApiError
from ingestion.ingest import IngestSummary, ingest
from ingestion.sources import make_source
from tests.bronze_reader import bronze
from tests.fake_twitter.server import FakeTwitter, iso, make_tweets, snowflake

QUERY = "#duckdb lang:en"
NOW = datetime.now(UTC).replace(microsecond=0)
SEARCH = "/2/tweets/search/recent"
TERM = len("conversation_id:") + 19  # a term of one conversation: the operator and a 19-digit id


def reply(parent: dict[str, Any], at: datetime, seq: int, author: str = "777") -> dict[str, Any]:
    """A reply to ``parent``, in its conversation, posted at ``at``."""
    tid = snowflake(at, seq)
    return {
        "id": tid,
        "text": f"@someone agreed {seq}",
        "author_id": author,
        "created_at": iso(at),
        "conversation_id": parent["conversation_id"],
        "referenced_tweets": [{"type": "replied_to", "id": parent["id"]}],
        "edit_history_tweet_ids": [tid],
    }


def tree(fake: FakeTwitter, roots: int, replies: int) -> list[dict[str, Any]]:
    """``roots`` tweets the query finds, each with ``replies`` replies only a conversation search finds
    (the second reply of each answers the first: a chain); every tweet of them."""
    fake.search[QUERY] = make_tweets(roots, NOW - timedelta(minutes=30), step=timedelta(seconds=20), seq=1)
    for r, root in enumerate(fake.search[QUERY]):
        parent = root
        for k in range(replies):
            child = reply(parent, NOW - timedelta(minutes=20 - k), seq=100 + r * 10 + k)
            fake.others.append(child)
            parent = child if k == 0 else root
    return fake.search[QUERY] + fake.others


def run(
    fake: FakeTwitter, session: requests.Session, lake: Lake, *, budget: int | None = None, length: int = 512
) -> IngestSummary:
    settings = Settings(
        lake=lake.root,
        queries=(QUERY,),
        accounts=(),
        bearer_token=Secret(fake.token),
        max_posts_per_run=budget,
        conversations=True,
        query_max_length=length,
    )
    return ingest(make_source("api", settings, session=session, sleep=lambda _: None), lake)


def conversation_queries(fake: FakeTwitter, start: int = 0) -> list[dict[str, str]]:
    """The first page of each conversation search sent (a page after it carries next_token)."""
    return [
        r.params
        for r in fake.sent(SEARCH)[start:]
        if r.params["query"].startswith("conversation_id:") and "next_token" not in r.params
    ]


def landed(lake: Lake) -> list[str]:
    return [i for rec in bronze(lake) if rec.envelope["stream"] == "conversations" for i in rec.tweet_ids]


def test_packs_fewest_queries_within_the_limit_lands_the_replies_and_reruns_idempotently(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    every = tree(fake_twitter, roots=30, replies=3)
    lake = Lake(str(tmp_path / "lake"))
    first = run(fake_twitter, twitter_session, lake)

    asked = conversation_queries(fake_twitter)
    per_query = (512 + len(" OR ")) // (TERM + len(" OR "))  # 13 terms fit in 512 characters
    assert len(asked) == math.ceil(30 / per_query) == 3
    assert all(len(q["query"]) <= 512 for q in asked)
    searched = [t.removeprefix("conversation_id:") for q in asked for t in q["query"].split(" OR ")]
    assert sorted(searched) == sorted(t["id"] for t in fake_twitter.search[QUERY])  # each root once
    # each conversation from just below its root: the roots come back too
    for q in asked:
        ids = q["query"].replace("conversation_id:", "").split(" OR ")
        assert q["since_id"] == str(min(int(i) for i in ids) - 1)
    assert sorted(landed(lake)) == sorted(t["id"] for t in every)
    assert first.tweets == 30 + len(every)

    # a rerun reads nothing again: each conversation searched from the newest id its pack landed
    fake_twitter.others.append(reply(fake_twitter.search[QUERY][0], NOW - timedelta(minutes=1), seq=999))
    before = len(landed(lake))
    second = run(fake_twitter, twitter_session, lake)
    assert second.tweets == 1
    again = landed(lake)
    assert len(again) == before + 1 and len(set(again)) == len(again)  # no post landed twice
    rerun = conversation_queries(fake_twitter, len(asked) + 1)
    assert len(rerun) == 3  # the same packs: their conversations share a since_id, none is read again
    for q in rerun:
        ids = set(q["query"].replace("conversation_id:", "").split(" OR "))
        assert q["since_id"] == str(max(int(t["id"]) for t in every if t["conversation_id"] in ids))


def test_the_budget_stops_the_conversations_cleanly_and_the_next_run_completes_them(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    every = tree(fake_twitter, roots=30, replies=3)
    lake = Lake(str(tmp_path / "lake"))
    first = run(fake_twitter, twitter_session, lake, budget=60)  # 30 roots, then 30 of the first pack's 52

    assert first.tweets == 60 and len(first.stops) == 1
    stop = "search_recent 'conversations': stopped after 1 page(s) at the run's budget of 60"
    assert stop in first.stops[0]
    assert "the next run searches them again" in first.stops[0]
    assert conversation_queries(fake_twitter)[0]["max_results"] == "30"  # asked for what the budget left
    tracked = ConversationStore(lake).load(Origin("search_recent", QUERY))
    assert len(tracked) == 30 and all(int(t.since_id) == int(c) - 1 for c, t in tracked.items())  # unmoved

    run(fake_twitter, twitter_session, lake)
    assert set(landed(lake)) == {t["id"] for t in every}  # nothing skipped
    tracked = ConversationStore(lake).load(Origin("search_recent", QUERY))
    assert all(int(t.since_id) > int(c) for c, t in tracked.items())


def test_a_query_the_api_finds_too_long_fails_naming_the_setting(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    tree(fake_twitter, roots=5, replies=1)
    fake_twitter.query_max_length = 100  # the API takes less than tweetlake was told
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(ApiError) as failed:
        run(fake_twitter, twitter_session, lake, length=512)
    message = str(failed.value)
    assert "400 Bad Request from search_recent" in message and "Rule length exceeds" in message
    length = 5 * TERM + 4 * len(" OR ")
    assert f"The conversation query was {length} characters (TWEETLAKE_QUERY_MAX_LENGTH=512)" in message
    assert fake_twitter.token not in message
    tracked = ConversationStore(lake).load(Origin("search_recent", QUERY))
    assert len(tracked) == 5  # the failure lost none: the next run follows them

    run(fake_twitter, twitter_session, lake, length=100)  # 2 terms a query
    assert len(conversation_queries(fake_twitter)) == 1 + 3 and len(landed(lake)) == 10


def test_packing_and_its_settings() -> None:
    ids = [str(10**18 + i) for i in range(40)]
    packs = pack(ids, 4096)
    assert len(packs) == 1 and len(query_of(packs[0])) == 40 * TERM + 39 * 4 <= 4096
    assert [len(p) for p in pack(ids, 512)] == [13, 13, 13, 1]
    assert pack(ids, TERM) == [[i] for i in ids]
    with pytest.raises(ConfigError, match="TWEETLAKE_QUERY_MAX_LENGTH=30 is shorter than one conversation"):
        pack(ids, 30)
    env = {"TWEETLAKE_CONVERSATIONS": "1", "TWEETLAKE_QUERY_MAX_LENGTH": "4096"}
    assert (load_settings(env).conversations, load_settings(env).query_max_length) == (True, 4096)
    assert (load_settings({}).conversations, load_settings({}).query_max_length) == (False, 512)
    with pytest.raises(ConfigError, match="TWEETLAKE_CONVERSATIONS='maybe'"):
        load_settings({"TWEETLAKE_CONVERSATIONS": "maybe"})


def test_a_conversation_older_than_the_recent_horizon_is_said(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path, caplog: Any
) -> None:
    old = make_tweets(1, NOW - timedelta(days=9), seq=5)[0]
    fake_twitter.others.append(old)
    fake_twitter.search[QUERY] = [reply(old, NOW - timedelta(minutes=5), seq=6)]
    lake = Lake(str(tmp_path / "lake"))
    with caplog.at_level(logging.WARNING):
        run(fake_twitter, twitter_session, lake)
    asked = conversation_queries(fake_twitter)
    assert len(asked) == 1 and "start_time" in asked[0] and "since_id" not in asked[0]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "conversations: 1 began before" in said and "full-archive search" in said
    assert f"tweetlake backfill --query 'conversation_id:{old['id']}'" in said


def test_the_ingest_flag_and_the_environment(
    fake_twitter: FakeTwitter,
    twitter_session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline import cli
    from tests.fake_twitter.fixtures import cli_through_fake

    every = tree(fake_twitter, roots=4, replies=2)
    monkeypatch.setenv("TWEETLAKE_QUERIES", QUERY)
    monkeypatch.setenv("TWEETLAKE_ACCOUNTS", "")
    cli_through_fake(monkeypatch, fake_twitter, twitter_session, "run_ingest")
    lake = tmp_path / "lake"
    assert cli.main(["ingest", "--source", "api", "--lake", str(lake)]) == cli.EXIT_OK
    assert conversation_queries(fake_twitter) == []  # off unless asked for
    assert cli.main(["ingest", "--source", "api", "--conversations", "--lake", str(lake)]) == cli.EXIT_OK
    # the first ingest landed the roots without following them, the second landed nothing new: nothing
    # to follow (conversations are followed from the ingests that land their tweets)
    assert "'conversations'" not in capsys.readouterr().err
    assert conversation_queries(fake_twitter) == []
    # TWEETLAKE_CONVERSATIONS (the Airflow DAG's ingest tasks read it) turns it on for the new tweets
    fake_twitter.search[QUERY].insert(0, make_tweets(1, NOW - timedelta(minutes=2), seq=3000)[0])
    monkeypatch.setenv("TWEETLAKE_CONVERSATIONS", "1")
    assert cli.main(["ingest", "--source", "api", "--lake", str(lake)]) == cli.EXIT_OK
    asked = conversation_queries(fake_twitter)
    assert len(asked) == 1 and asked[0]["query"] == f"conversation_id:{fake_twitter.search[QUERY][0]['id']}"
    assert "search_recent 'conversations'" in capsys.readouterr().err and len(every) == 12
