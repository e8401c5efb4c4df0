"""``tweetlake export --ids`` and ``tweetlake rehydrate``: a lake shared dehydrated, and hydrated back through
tweet lookup (tweepy over real HTTP to the fake API v2 server), with the ids gone since reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from foundation.lake import Lake
from foundation.settings import ConfigError, Settings
from pipeline import sharing, steps
from tests.bronze_reader import bronze
from tests.fake_twitter.fixtures import api_settings
from tests.fake_twitter.server import FakeTwitter, make_tweets
from tests.fixtures_lake import query

QUERY = "#duckdb lang:en"
NOW = datetime.now(UTC).replace(microsecond=0)


def settings_for(lake: Path, fake: FakeTwitter, **env: str) -> Settings:
    return api_settings(lake, fake, QUERY, **env)


@pytest.mark.slow
def test_an_exported_lake_is_rehydrated_and_the_gone_ids_are_named(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.add_user("duckdb", "2244994945")
    fake_twitter.search[QUERY] = make_tweets(150, NOW - timedelta(minutes=5))
    settings = settings_for(tmp_path / "lake", fake_twitter)
    steps.run_ingest(settings, "api", session=twitter_session, sleep=lambda _: None)
    steps.run_build(settings)
    with pytest.raises(ConfigError, match="publish"):  # what is shared is what passed the gate
        sharing.export_ids(settings, tmp_path / "shared")
    steps.run_validate(settings)
    steps.run_publish(settings)

    done = sharing.export_ids(settings, tmp_path / "shared")
    ids = done.ids_path.read_text().split()
    expected = sorted((t["id"] for t in fake_twitter.search[QUERY]), key=int, reverse=True)
    assert ids == expected and done.tweets == 150  # newest first, each once
    manifest = json.loads(done.manifest_path.read_text())
    [stream] = manifest["streams"]
    assert (stream["endpoint"], stream["stream"], stream["tweets"]) == ("search_recent", QUERY, 150)
    newest = fake_twitter.search[QUERY][0]["created_at"]
    assert stream["last_created_at"][:19] == newest[:19] and manifest["tweets"] == 150

    # seven tweets deleted since: the lookup serves the rest, names those gone, lands its answers in bronze
    gone = set(ids[10:17])
    fake_twitter.search[QUERY] = [t for t in fake_twitter.search[QUERY] if t["id"] not in gone]
    result = sharing.rehydrate(settings, done.ids_path, session=twitter_session, sleep=lambda _: None)
    assert set(result.gone) == gone and result.asked == 150
    assert result.gone_path is not None and set(result.gone_path.read_text().split()) == gone
    assert "rehydrated 143 of 150 ids; 7 gone" in result.describe()
    lookups = fake_twitter.sent("/2/tweets")
    lookups = [r for r in lookups if r.path == "/2/tweets"]
    assert [len(r.params["ids"].split(",")) for r in lookups] == [100, 50]
    records = bronze(Lake(settings.lake), "tweets_lookup")
    assert sorted(i for r in records for i in r.tweet_ids) == sorted(set(ids) - gone)
    assert all(r.envelope["stream"] == "tweet_ids" for r in records)

    # the next build reads the lookups like any page: every tweet still once in silver
    steps.run_build(settings)
    tweets = Lake(settings.lake).url("_staging/silver", "tweets")
    counted = query(
        settings, f"select count(*), count(distinct tweet_id) from read_parquet('{tweets}/*/*.parquet')"
    )
    assert counted == [(150, 150)]


def test_a_rehydration_stops_at_the_budget(
    fake_twitter: FakeTwitter, twitter_session: requests.Session, tmp_path: Path
) -> None:
    fake_twitter.search[QUERY] = make_tweets(150, NOW - timedelta(minutes=5))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(
        "# shared by a colleague\n" + "".join(f"{t['id']}\n" for t in fake_twitter.search[QUERY])
    )
    settings = settings_for(tmp_path / "lake", fake_twitter, TWEETLAKE_MAX_POSTS_PER_RUN="120")
    result = sharing.rehydrate(settings, ids_file, session=twitter_session, sleep=lambda _: None)
    assert result.ingest.tweets == 120 and "TWEETLAKE_MAX_POSTS_PER_RUN" in result.ingest.stops[0]
    assert "the ids after them were not looked up" in result.ingest.stops[0]
    assert "rehydrated 120 of 150 ids; 0 gone (deleted, protected or suspended); 30 not looked up" in (
        result.describe()
    )


def test_an_ids_file_with_a_line_that_is_no_id_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("1460323737035677698\n\n1460323737035677699\nhttps://x.com/a/status/1\n")
    with pytest.raises(ConfigError, match=r"ids\.txt:4: 'https://x.com/a/status/1' is not a tweet id"):
        sharing.read_ids(path)
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no tweet ids"):
        sharing.read_ids(path)
