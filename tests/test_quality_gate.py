"""The quality gate on a lake of small hand-made contract tables (no dbt): passes when the data is right,
fails, names the table, expectation and offending values, and blocks publish when it is not.

``make_contract_lake`` writes bronze pages and every silver/gold table of the column contract with a few
rows, laid out as the build writes them (``_staging/silver/<table>/dt=<date>/data_0.parquet`` for the
partitioned tables, ``_staging/silver/<table>/data_0.parquet`` for the others, see
dbt_project/macros/lake_table.sql; gold staged in ``_staging/gold/<table>.parquet``); tests corrupt one
table on purpose (duplicate ids across partitions, negative metrics, a tweet whose author is not in users, a
tweet lost between bronze and silver) and check the verdict, and that publish refuses gold that did not pass
its gate.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations.validate import PublishRefused, QualityGateFailed, QualityOptions, validate
from foundation.lake import Lake
from foundation.settings import Settings
from pipeline import steps as pipeline

pytestmark = pytest.mark.slow

DAY1, DAY2 = date(2026, 11, 19), date(2026, 11, 20)
FETCHED = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
USERS = [f"{1000 + i}" for i in range(5)]


def _ts(day: date, minute: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC) + timedelta(minutes=minute))


def write_parquet(lake: Lake, rel: str, df: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "part.parquet")
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), local)
        lake.put_file(local, rel)


def tweets_frame(day: date, ids: list[str], authors: list[str] | None = None) -> pd.DataFrame:
    n = len(ids)
    authors = authors or [USERS[i % len(USERS)] for i in range(n)]
    created = [_ts(day, i) for i in range(n)]
    return pd.DataFrame(
        {
            "tweet_id": ids,
            "text": [f"tweet {i} #duckdb" for i in ids],
            "text_clean": [f"tweet {i}" for i in ids],
            "lang": ["en", "pt", "zh-tw", "und", "qme", "zxx", "ja"][:1] * n,
            "created_at": pd.Series(created, dtype="datetime64[us, UTC]"),
            "created_date": [day] * n,  # also the partition: dt=<created_date>/ (not a column of the file)
            "author_id": authors,
            "author_username": [f"user{a}" for a in authors],
            "conversation_id": ids,
            "tweet_type": [("original", "reply", "quote", "retweet")[i % 4] for i in range(n)],
            "referenced_tweet_id": [None] * n,
            "in_reply_to_user_id": [None] * n,
            "possibly_sensitive": [False] * n,
            "like_count": pd.Series(range(n), dtype="int64"),
            "retweet_count": pd.Series([1] * n, dtype="int64"),
            "reply_count": pd.Series([0] * n, dtype="int64"),
            "quote_count": pd.Series([0] * n, dtype="int64"),
            "impression_count": pd.Series([None] * n, dtype="Int64"),
            "bookmark_count": pd.Series([3] * n, dtype="Int64"),
            "text_truncated": [None] * n,
            "reply_settings": ["everyone"] * n,
            "client_app": ["Twitter Web App"] * n,
            "edit_history_tweet_ids": [[i] for i in ids],
            "latest_version_id": ids,
            "withheld_country_codes": [None] * n,
            "withheld_copyright": [False] * n,
            "place_id": [None] * n,
            "longitude": pd.Series([None] * n, dtype="float64"),
            "latitude": pd.Series([None] * n, dtype="float64"),
            "media_keys": [None] * n,
            "poll_ids": [None] * n,
            "seen_in": ["data"] * n,
            "sentiment_score": [0.5, -0.2, 0.0][:1] * n,
            "sentiment_label": ["positive"] * n,
            "source": ["sample"] * n,
            "endpoint": ["search_recent"] * n,
            "stream": ["duckdb"] * n,
            "first_seen_at": pd.Series([FETCHED] * n, dtype="datetime64[us, UTC]"),
            "last_seen_at": pd.Series([FETCHED] * n, dtype="datetime64[us, UTC]"),
            "bronze_file": [bronze_rel(day)] * n,
            "text_hash": pd.Series(range(n), dtype="uint64"),
        }
    )


def bronze_rel(day: date) -> str:
    return (
        "bronze/source=sample/endpoint=search_recent/stream=duckdb/"
        f"ingest_date={day.isoformat()}/run-{day.isoformat()}-0000.jsonl"
    )


def bronze_page(ids: list[str], fetched: datetime = FETCHED) -> dict[str, Any]:
    return {
        "envelope": {
            "source": "sample",
            "endpoint": "search_recent",
            "stream": "duckdb",
            "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "page_number": 1,
        },
        "response": {
            "data": [{"id": i, "text": f"tweet {i}"} for i in ids],
            "meta": {"result_count": len(ids)},
        },
    }


def write_bronze(lake: Lake, day: date, pages: list[dict[str, Any]]) -> None:
    lake.write_bytes(bronze_rel(day), "".join(json.dumps(p) + "\n" for p in pages).encode())


def write_partitions(lake: Lake, table: str, df: pd.DataFrame, days: list[date]) -> None:
    """``df`` (one day per row in ``days``) as the build writes a partitioned table: one file per day."""
    for day in sorted(set(days)):
        rows = df[[d == day for d in days]]
        write_parquet(lake, f"_staging/silver/{table}/dt={day.isoformat()}/data_0.parquet", rows)


def write_tweets_partition(lake: Lake, day: date, df: pd.DataFrame) -> None:
    """Rows added to the tweets of ``day``: the partition's file rewritten with them, as a build does."""
    rel = f"_staging/silver/tweets/dt={day.isoformat()}/data_0.parquet"
    if lake.exists(rel):
        df = pd.concat([pq.read_table(lake.url(rel)).to_pandas(), df], ignore_index=True)
    write_parquet(lake, rel, df)


def day_of(tweet_id: str) -> date:
    return datetime.strptime(tweet_id[:8], "%Y%m%d").date()


def make_contract_lake(lake: Lake, per_day: int = 12) -> dict[str, list[str]]:
    """Bronze and every contract table, consistent with each other; returns the tweet ids per day."""
    ids = {d.isoformat(): [f"{d:%Y%m%d}{i:04d}" for i in range(per_day)] for d in (DAY1, DAY2)}
    for d in (DAY1, DAY2):
        day_ids = ids[d.isoformat()]
        # a re-observation: the first tweets appear on two pages (distinct ids are what counts)
        write_bronze(lake, d, [bronze_page(day_ids), bronze_page(day_ids[:3])])
        write_tweets_partition(lake, d, tweets_frame(d, day_ids))
    all_ids = ids[DAY1.isoformat()] + ids[DAY2.isoformat()]
    now = pd.Series([FETCHED] * len(USERS), dtype="datetime64[us, UTC]")
    write_parquet(
        lake,
        "_staging/silver/users/data_0.parquet",
        pd.DataFrame(
            {
                "user_id": USERS,
                "username": [f"user{u}" for u in USERS],
                "name": USERS,
                "description": [""] * 5,
                "location": [None] * 5,
                "verified": [False] * 5,
                "verified_type": ["none", "blue", "business", "government", "none"],
                "protected": [False] * 5,
                "url": [None] * 5,
                "profile_image_url": [None] * 5,
                "pinned_tweet_id": [None] * 5,
                "withheld_country_codes": [None] * 5,
                "created_at": pd.Series(
                    [pd.Timestamp("2015-01-01", tz="UTC")] * 5, dtype="datetime64[us, UTC]"
                ),
                "followers_count": [10] * 5,
                "following_count": [1] * 5,
                "tweet_count": [100] * 5,
                "listed_count": [0] * 5,
                "first_seen_at": now,
                "last_seen_at": now,
                "bronze_file": [bronze_rel(DAY2)] * 5,
            }
        ),
    )
    obs = pd.Series([FETCHED] * len(all_ids), dtype="datetime64[us, UTC]")
    write_partitions(
        lake,
        "tweet_metrics",
        pd.DataFrame(
            {
                "tweet_id": all_ids,
                "observed_at": obs,
                "like_count": 1,
                "retweet_count": 0,
                "reply_count": 0,
                "quote_count": 0,
                "impression_count": None,
                "bookmark_count": 0,
                "source": "sample",
                "endpoint": "search_recent",
                "stream": "duckdb",
                "bronze_file": [bronze_rel(day_of(i)) for i in all_ids],
            }
        ),
        [FETCHED.date()] * len(all_ids),  # dt: the day of observed_at
    )
    days_of = [day_of(i) for i in all_ids]
    write_partitions(
        lake,
        "hashtags",
        pd.DataFrame(
            {
                "tweet_id": all_ids,
                "tag": "duckdb",
                "tag_original": "DuckDB",
                "start_index": pd.Series([8] * len(all_ids), dtype="int32"),
                "created_date": days_of,
            }
        ),
        days_of,
    )
    write_partitions(
        lake,
        "mentions",
        pd.DataFrame(
            {
                "tweet_id": all_ids[:3],
                "mentioned_user_id": USERS[:3],
                "mentioned_username": ["a", "b", "c"],
                "start_index": pd.Series([0] * 3, dtype="int32"),
                "created_date": days_of[:3],
            }
        ),
        days_of[:3],
    )
    write_partitions(
        lake,
        "urls",
        pd.DataFrame(
            {
                "tweet_id": all_ids[:2],
                "url": "https://t.co/x",
                "expanded_url": "https://duckdb.org",
                "display_url": "duckdb.org",
                "domain": "duckdb.org",
                "start_index": pd.Series([20] * 2, dtype="int32"),
                "created_date": days_of[:2],
            }
        ),
        days_of[:2],
    )
    write_partitions(
        lake,
        "referenced_tweets",
        pd.DataFrame(
            {
                "tweet_id": all_ids[:2],
                "referenced_tweet_id": ["1", "2"],
                "reference_type": ["quoted", "replied_to"],
                "referenced_author_id": USERS[:2],
                "referenced_text": ["x", None],
                "is_available": [True, False],
                "created_date": days_of[:2],
            }
        ),
        days_of[:2],
    )
    write_parquet(
        lake,
        "_staging/silver/api_errors/data_0.parquet",
        pd.DataFrame(
            {
                "error_key": ["e1"],
                "title": ["Not Found Error"],
                "detail": ["gone"],
                "type": ["about:blank"],
                "resource_type": ["tweet"],
                "resource_id": ["9"],
                "parameter": ["ids"],
                "value": ["9"],
                "source": ["sample"],
                "endpoint": ["search_recent"],
                "stream": ["duckdb"],
                "fetched_at": pd.Series([FETCHED], dtype="datetime64[us, UTC]"),
                "run_id": ["r"],
                "run_key": ["k"],
                "bronze_file": [bronze_rel(DAY2)],
            }
        ),
    )
    # no bronze line set aside: the table a build writes then, with no rows
    write_parquet(
        lake,
        "_staging/silver/rejected_pages/data_0.parquet",
        pd.DataFrame(
            {
                "bronze_file": pd.Series([], dtype="string"),
                "line": pd.Series([], dtype="int64"),
                "byte_offset": pd.Series([], dtype="int64"),
                "shape_guess": pd.Series([], dtype="string"),
                "reason": pd.Series([], dtype="string"),
                "head": pd.Series([], dtype="string"),
                "tweets_guess": pd.Series([], dtype="int64"),
                "source": pd.Series([], dtype="string"),
                "file_size": pd.Series([], dtype="int64"),
                "file_mtime": pd.Series([], dtype="string"),
                "rejected_at": pd.Series([], dtype="datetime64[us, UTC]"),
            }
        ),
    )
    # no counts landed (`tweetlake counts` never ran): the table a build writes then, with no rows
    text, stamp = pd.Series([], dtype="string"), pd.Series([], dtype="datetime64[us, UTC]")
    write_parquet(
        lake,
        "_staging/silver/tweet_counts/data_0.parquet",
        pd.DataFrame(
            {
                **dict.fromkeys(("query", "stream_key", "source", "endpoint", "granularity"), text),
                "window_start": stamp,
                "window_end": stamp,
                "tweet_count": pd.Series([], dtype="int64"),
                "fetched_at": stamp,
                "run_id": text,
                "bronze_file": text,
            }
        ),
    )
    # no compliance job run, no conversation with replies collected: tables built empty (as the build does)
    write_parquet(
        lake,
        "_staging/silver/compliance_events/data_0.parquet",
        pd.DataFrame(
            {
                **dict.fromkeys(("id", "id_type", "action", "reason"), text),
                "created_at": stamp,
                "redacted_at": stamp,
                "job_id": text,
            }
        ),
    )
    count = pd.Series([], dtype="int64")
    flag = pd.Series([], dtype="boolean")
    write_parquet(
        lake,
        "_staging/gold/conversations.parquet",
        pd.DataFrame(
            {
                **dict.fromkeys(("conversation_id", "root_tweet_id"), text),
                "root_collected": flag,
                **dict.fromkeys(("root_author_id", "root_author_username"), text),
                "root_created_at": stamp,
                **dict.fromkeys(("size", "replies", "depth"), count),
                "depth_exact": flag,
                "participants": count,
                "first_reply_at": stamp,
                "last_reply_at": stamp,
            }
        ),
    )
    write_parquet(
        lake,
        "_staging/gold/conversation_links.parquet",
        pd.DataFrame(
            {
                **dict.fromkeys(("conversation_id", "tweet_id", "parent_tweet_id"), text),
                "depth": count,
                "depth_exact": flag,
                **dict.fromkeys(("author_id", "author_username"), text),
                "created_at": stamp,
            }
        ),
    )
    gold = "_staging/gold"
    days = [DAY1, DAY2]
    write_parquet(
        lake,
        f"{gold}/user_engagement_daily.parquet",
        pd.DataFrame(
            {
                "author_id": USERS[:2] * 2,
                "author_username": ["a", "b"] * 2,
                "day": [DAY1, DAY1, DAY2, DAY2],
                "tweets": 2,
                "likes": 3,
                "retweets": 1,
                "replies": 0,
                "quotes": 0,
                "impressions": 0,
                "engagement_rate": [0.1, None, 0.0, 2.5],
            }
        ),
    )
    write_parquet(
        lake,
        f"{gold}/top_tweets.parquet",
        pd.DataFrame(
            {
                "day": days,
                "stream": "duckdb",
                "rank": [1, 1],
                "tweet_id": [all_ids[0], all_ids[-1]],
                "author_username": "a",
                "text": "t",
                "media_type": ["photo", None],
                "media_types": [["photo"], []],
                "engagement": [5, 6],
                "like_count": [4, 5],
                "retweet_count": 1,
                "reply_count": 0,
                "quote_count": 0,
            }
        ),
    )
    write_parquet(
        lake,
        f"{gold}/hashtag_trends_daily.parquet",
        pd.DataFrame(
            {
                "day": days,
                "kind": "hashtag",
                "tag": "duckdb",
                "tweets": per_day,
                "authors": 5,
                "engagement": 10,
            }
        ),
    )
    write_parquet(
        lake,
        f"{gold}/sentiment_daily.parquet",
        pd.DataFrame(
            {
                "stream": "duckdb",
                "day": days,
                "tweets": per_day,
                "mean_score": [0.5, -0.1],
                "share_positive": [1.0, 0.2],
                "share_neutral": [0.0, 0.5],
                "share_negative": [0.0, 0.3],
            }
        ),
    )
    write_parquet(
        lake,
        f"{gold}/interactions.parquet",
        pd.DataFrame(
            {
                "source_user_id": USERS[:2],
                "source_username": ["a", "b"],
                "target_user_id": USERS[1:3],
                "target_username": ["b", "c"],
                "interaction": ["reply", "mention"],
                "interactions": [1, 4],
                "first_at": pd.Series([FETCHED, FETCHED], dtype="datetime64[us, UTC]"),
                "last_at": pd.Series([FETCHED, FETCHED + timedelta(minutes=1)], dtype="datetime64[us, UTC]"),
            }
        ),
    )
    write_parquet(
        lake,
        f"{gold}/tweets_export.parquet",
        pd.DataFrame(
            {
                "user": [f"user{USERS[0]}"] * len(all_ids),
                "text": "t",
                "like_count": 1,
                "retweet_count": 0,
                "created_at": pd.Series([_ts(DAY1, 0)] * len(all_ids), dtype="datetime64[us, UTC]"),
            }
        ),
    )
    # the object model's tables: one tweet with a video and a poll, a place, an edited tweet, a cashtag
    first, second = all_ids[0], all_ids[1]
    write_parquet(
        lake,
        "_staging/silver/media/data_0.parquet",
        pd.DataFrame(
            {
                "media_key": ["13_1"],
                "media_type": ["video"],
                "url": [None],
                "preview_image_url": ["https://pbs.twimg.com/media/x.jpg"],
                "alt_text": [None],
                "width": [1920],
                "height": [1080],
                "duration_ms": [46947],
                "view_count": [100],
                "variants": [[{"bit_rate": 632000, "content_type": "video/mp4", "url": "https://v/x.mp4"}]],
                "first_seen_at": now[:1],
                "last_seen_at": now[:1],
                "bronze_file": [bronze_rel(DAY2)],
            }
        ),
    )
    write_parquet(
        lake,
        "_staging/silver/polls/data_0.parquet",
        pd.DataFrame(
            {
                "poll_id": ["p1"],
                "options": [
                    [{"position": 1, "label": "a", "votes": 3}, {"position": 2, "label": "b", "votes": 1}]
                ],
                "option_count": [2],
                "total_votes": [4],
                "duration_minutes": [60],
                "end_at": pd.Series([FETCHED], dtype="datetime64[us, UTC]"),
                "voting_status": ["open"],
            }
        ),
    )
    write_parquet(
        lake,
        "_staging/silver/places/data_0.parquet",
        pd.DataFrame(
            {
                "place_id": ["01a9a39529b27f36"],
                "full_name": ["Manhattan, NY"],
                "name": ["Manhattan"],
                "country": ["United States"],
                "country_code": ["US"],
                "place_type": ["city"],
                "bbox": [[-74.03, 40.68, -73.91, 40.88]],
            }
        ),
    )
    write_parquet(
        lake,
        "_staging/silver/tweet_edits/data_0.parquet",
        pd.DataFrame(
            {
                "tweet_id": [first, second],
                "latest_tweet_id": [second, second],
                "version": [1, 2],
                "versions": [2, 2],
                "is_latest": [False, True],
            }
        ),
    )
    one = [day_of(first)]
    entity_rows = {
        "tweet_media": {"tweet_id": [first], "media_key": ["13_1"], "position": [1]},
        "tweet_polls": {"tweet_id": [first], "poll_id": ["p1"]},
        "cashtags": {"tweet_id": [first], "tag": ["TWTR"], "tag_original": ["twtr"], "start_index": [3]},
        "context_annotations": {
            "tweet_id": [first],
            "domain_id": ["47"],
            "domain_name": ["Brand"],
            "entity_id": ["10045225402"],
            "entity_name": ["Twitter"],
        },
        "annotations": {
            "tweet_id": [first],
            "annotation_type": ["Product"],
            "normalized_text": ["DuckDB"],
            "probability": [0.9],
            "start_index": [6],
            "end_index": [11],
        },
    }
    for table, columns in entity_rows.items():
        write_partitions(lake, table, pd.DataFrame({**columns, "created_date": one}), one)
    write_parquet(
        lake,
        f"{gold}/media_daily.parquet",
        pd.DataFrame(
            {
                "day": days,
                "stream": "duckdb",
                "media_type": ["video", "none"],
                "tweets": [1, per_day],
                "media_items": [1, 0],
                "views": [100, 0],
            }
        ),
    )
    return ids


def run_validation(lake: Lake, **options: Any) -> Any:
    return validate(
        lake,
        run_id=options.pop("run_id", "test-run"),
        layers=options.pop("layers", ("silver", "gold")),
        gold_root=lake.url("_staging/gold"),
        progress=lambda _: None,
        options=QualityOptions.from_env({}, **options),
    )


# -- tests ---------------------------------------------------------------------------------------------
def test_quality_contract_lake_passes_and_keeps_a_record(lake_settings: Settings) -> None:
    lake = Lake.from_settings(lake_settings)
    make_contract_lake(lake)
    report = run_validation(lake)
    assert report.success, report.describe()
    assert report.not_built == []
    assert {s.suite for s in report.suites} >= {"silver.tweets", "silver.users", "gold.top_tweets"}
    tweets = next(s for s in report.suites if s.suite == "silver.tweets")
    assert tweets.rows == 24 and tweets.files == 2 and tweets.evaluated > 30
    # the reference time came from bronze (explicit dates stay valid whatever today is)
    assert report.as_of.startswith("2026-11-20T23:00:00") and "bronze" in report.as_of_source
    record = lake.read_json("quality/runs/test-run.json")
    assert record["report"]["success"] is True and len(record["results"]) == len(report.suites)
    assert lake.exists("quality/index.html") and lake.exists("quality/docs/index.html")
    assert lake.exists(f"quality/{tweets.docs_page}")


def test_quality_corrupt_tables_fail_name_the_values_and_publish_keeps_the_last_good_gold(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.from_settings(local_settings)
    ids = make_contract_lake(lake)
    # the last good gold: validated, then published (the refresh's validate-then-publish)
    assert run_validation(lake, run_id="good").success
    assert pipeline.run_publish(local_settings).tables["top_tweets"] == 2
    good_gold = {rel: lake.read_bytes(rel) for rel in lake.walk_files("gold")}  # exports and Delta tables
    assert "gold/top_tweets.parquet" in good_gold and "gold/_published.json" in good_gold
    assert any(rel.startswith("gold/top_tweets/_delta_log/") for rel in good_gold)

    # 1. a duplicate tweet id across two partitions (each file alone is clean: only a table check sees it)
    dup = tweets_frame(DAY2, [ids[DAY1.isoformat()][0]])
    write_tweets_partition(lake, DAY2, dup)
    # 2. a tweet whose author is not in silver.users; 3. negative metrics in staged gold
    write_tweets_partition(lake, DAY1, tweets_frame(DAY1, ["777"], authors=["999999"]))
    write_bronze(lake, date(2026, 11, 18), [bronze_page(["777"])])
    top = pq.read_table(lake.url("_staging/gold/top_tweets.parquet")).to_pandas()
    top.loc[0, "like_count"] = -5
    write_parquet(lake, "_staging/gold/top_tweets.parquet", top)

    # The refresh path: ingest and build stubbed out, validate and publish for real.
    monkeypatch.setattr(pipeline, "run_ingest", lambda *a, **k: _Summary())
    monkeypatch.setattr(pipeline, "run_build", lambda *a, **k: _Summary())
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.refresh(local_settings)
    # publish after the failed gate (a retried task, a hand-run `tweetlake publish`) refuses, changing nothing
    with pytest.raises(PublishRefused, match="failed its quality gate in run .*silver.tweets"):
        pipeline.run_publish(local_settings)
    assert {rel: lake.read_bytes(rel) for rel in lake.walk_files("gold")} == good_gold

    message = str(caught.value)
    assert "silver.tweets: expect_column_values_to_be_unique on column 'tweet_id'" in message
    assert ids[DAY1.isoformat()][0] in message  # the duplicated id itself
    assert "expect_column_values_to_exist_in_table on column 'author_id'" in message and "999999" in message
    assert "gold.top_tweets: expect_column_values_to_be_between on column 'like_count'" in message
    assert "-5" in message
    report = caught.value.report
    assert report is not None
    failed = {s.suite for s in report.suites if s.status == "failed"}
    assert failed == {"silver.tweets", "gold.top_tweets"}
    unique = next(f for f in report.failures if f.expectation == "expect_column_values_to_be_unique")
    assert unique.unexpected_count == 2 and unique.element_count == 26  # exact, from DuckDB
    # the failing run is kept too, and the report index shows it
    runs = lake.glob("quality/runs/*.json")
    assert len(runs) == 2 and f"quality/runs/{report.run_id}.json" in runs
    index = lake.read_bytes("quality/index.html").decode()
    assert "expect_column_values_to_be_unique" in index and "failed" in index


def test_quality_publish_refuses_staged_gold_never_validated(
    local_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    # no validation at all: the CLI says why and exits 3 (a quality failure), gold/ is not created
    assert main(["publish", "--lake", lake.root]) == 3
    err = capsys.readouterr().err
    assert "publish refused" in err and "was never validated" in err and "tweetlake validate" in err
    assert lake.glob("gold/*") == []
    # a staged table the gate did not see (built after the validation) is refused too
    assert run_validation(lake, run_id="r1").success
    top = lake.read_bytes("_staging/gold/top_tweets.parquet")
    lake.write_bytes("_staging/gold/late_table.parquet", top)
    with pytest.raises(PublishRefused, match="late_table.parquet never validated"):
        pipeline.run_publish(local_settings)
    assert lake.glob("gold/*") == []
    lake.remove(["_staging/gold/late_table.parquet"])
    assert set(pipeline.run_publish(local_settings).tables) == {
        "conversation_links",
        "conversations",
        "hashtag_trends_daily",
        "interactions",
        "media_daily",
        "sentiment_daily",
        "top_tweets",
        "tweets_export",
        "user_engagement_daily",
    }


def test_quality_publish_refuses_staged_gold_changed_after_validation(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    assert run_validation(lake, run_id="r1").success
    gate_record = lake.read_json("_staging/gold/_gate.json")
    assert gate_record["run_id"] == "r1" and gate_record["passed"] is True
    assert sorted(gate_record["files"]) == sorted(lake.glob("_staging/gold/*.parquet"))
    # the build rewrote a staged file after the gate (here with a bad value nobody validated)
    df = pq.read_table(lake.url("_staging/gold/top_tweets.parquet")).to_pandas()
    df.loc[0, "like_count"] = -9
    write_parquet(lake, "_staging/gold/top_tweets.parquet", df)
    with pytest.raises(PublishRefused, match="top_tweets.parquet changed after the gate of run r1"):
        pipeline.run_publish(local_settings)
    assert lake.glob("gold/*") == []
    # validated again, it fails its gate, and publish still refuses
    assert not run_validation(lake, run_id="r2").success
    with pytest.raises(PublishRefused, match="failed its quality gate in run r2"):
        pipeline.run_publish(local_settings)
    assert lake.glob("gold/*") == []


class _Summary:
    def describe(self) -> str:
        return "stub"


def test_quality_cli_validate_exits_3_and_names_the_failure(
    local_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    lake = Lake.from_settings(local_settings)
    ids = make_contract_lake(lake)
    # a tweet lost between bronze and silver
    write_bronze(lake, date(2026, 11, 18), [bronze_page(["4242"])])
    assert main(["validate", "--lake", lake.root]) == 3
    err = capsys.readouterr().err
    assert "quality gate failed on silver.tweets" in err
    assert "expect_table_row_count_to_equal_bronze_tweets" in err and "4242" in err
    assert ids and "quality gate failed on silver.tweets, nothing published" in err  # gold is fine


def test_quality_tables_not_built_are_listed_not_failed(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    lake.remove_tree("_staging/silver/hashtags")
    lake.remove(["_staging/gold/interactions.parquet"])
    report = run_validation(lake)
    assert report.success, report.describe()
    assert report.not_built == ["gold.interactions", "silver.hashtags"]
    assert "not built yet" in report.describe()
    # ... but silver.tweets is required, and a reference to a missing table is skipped, said so
    lake.remove_tree("_staging/silver/users")
    report = run_validation(lake, run_id="r2")
    tweets = next(s for s in report.suites if s.suite == "silver.tweets")
    assert any("silver.users is not built" in s for s in tweets.skipped)
    lake.remove_tree("_staging/silver/tweets")
    report = run_validation(lake, run_id="r3")
    assert not report.success
    assert any(f.suite == "silver.tweets" and "does not exist" in f.error for f in report.failures)


def test_quality_reads_only_new_silver_files_and_batches_merge_exactly(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    first = run_validation(lake, run_id="r1", batch_rows=5)
    tweets = next(s for s in first.suites if s.suite == "silver.tweets")
    assert first.success and tweets.rows_checked == 24 and tweets.batches >= 5
    # nothing changed: no row is read again (silver or gold), the table checks still run on everything
    second = run_validation(lake, run_id="r2", batch_rows=5)
    tweets = next(s for s in second.suites if s.suite == "silver.tweets")
    assert tweets.rows_checked == 0 and tweets.files_checked == 0 and tweets.rows == 24
    gold = next(s for s in second.suites if s.suite == "gold.tweets_export")
    assert gold.rows_checked == 0 and gold.files_checked == 0 and gold.rows == 24
    # a new partition with a bad row: only it is read, and the bad values are counted exactly
    bad = tweets_frame(date(2026, 11, 18), ["9001", "9002", "9003"])
    bad["reply_count"] = [-1, 2, -3]
    write_tweets_partition(lake, date(2026, 11, 18), bad)
    write_bronze(lake, date(2026, 11, 18), [bronze_page(["9001", "9002", "9003"])])
    third = run_validation(lake, run_id="r3", batch_rows=2)
    tweets = next(s for s in third.suites if s.suite == "silver.tweets")
    assert tweets.rows_checked == 3 and tweets.files_checked == 1 and tweets.batches == 2
    [fail] = third.failures
    assert (fail.expectation, fail.column, fail.unexpected_count) == (
        "expect_column_values_to_be_between",
        "reply_count",
        2,
    )
    assert sorted(fail.examples) == [-3, -1]
    # a failed run does not mark files as validated: the next run reads the bad file again
    fourth = run_validation(lake, run_id="r4")
    assert not fourth.success
    assert next(s for s in fourth.suites if s.suite == "silver.tweets").files_checked == 1
    full = run_validation(lake, run_id="r5", full=True)
    assert next(s for s in full.suites if s.suite == "silver.tweets").rows_checked == 27


def test_quality_changed_gold_or_earlier_reference_time_or_new_suite_reads_rows_again(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    assert run_validation(lake, run_id="r1").success
    second = run_validation(lake, run_id="r2")
    top = next(s for s in second.suites if s.suite == "gold.top_tweets")
    assert second.success and top.rows_checked == 0 and top.files_checked == 0
    # a rebuilt gold file is validated again, whole, and its bad values named
    df = pq.read_table(lake.url("_staging/gold/top_tweets.parquet")).to_pandas()
    df.loc[1, "like_count"] = -7
    write_parquet(lake, "_staging/gold/top_tweets.parquet", df)
    third = run_validation(lake, run_id="r3")
    top = next(s for s in third.suites if s.suite == "gold.top_tweets")
    assert top.rows_checked == top.rows == 2 and top.files_checked == 1
    [fail] = third.failures
    assert (fail.suite, fail.expectation, fail.column, fail.examples) == (
        "gold.top_tweets",
        "expect_column_values_to_be_between",
        "like_count",
        [-7],
    )
    df.loc[1, "like_count"] = 7
    write_parquet(lake, "_staging/gold/top_tweets.parquet", df)
    assert run_validation(lake, run_id="r4").success
    # rows validated under a later $not_after than this run's are read again (and may fail now) ...
    earlier = run_validation(lake, run_id="r5", as_of="2026-11-20T12:00:00Z")
    tweets = next(s for s in earlier.suites if s.suite == "silver.tweets")
    assert tweets.files_checked == 2 and tweets.rows_checked == 24
    assert any(f.suite == "silver.tweets" and f.column == "first_seen_at" for f in earlier.failures)
    # ... and so are rows validated under other row expectations (a suite was edited)
    assert (
        next(s for s in run_validation(lake, run_id="r6").suites if s.suite == "silver.tweets").rows_checked
        == 0
    )
    import expectations.state

    monkeypatch.setattr(expectations.state, "rows_key", lambda suite: "edited")
    again = run_validation(lake, run_id="r7")
    assert all(s.rows_checked == s.rows for s in again.suites), [
        (s.suite, s.rows_checked) for s in again.suites
    ]


def test_quality_bronze_ids_are_kept_per_file_and_changed_files_read_again(lake_settings: Settings) -> None:
    lake = Lake.from_settings(lake_settings)
    ids = make_contract_lake(lake)

    def bronze_count(run_id: str) -> dict[str, Any]:
        record = lake.read_json(f"quality/runs/{run_id}.json")
        [tweets] = [r for r in record["results"] if r["suite_name"] == "silver.tweets"]
        [count] = [
            r
            for r in tweets["results"]
            if r["expectation_config"]["meta"].get("tweetlake_check")
            == "expect_table_row_count_to_equal_bronze_tweets"
        ]
        return count["result"]["details"]

    assert run_validation(lake, run_id="r1").success
    assert lake.exists("quality/_state/bronze_ids.parquet")
    assert run_validation(lake, run_id="r2").success  # the ids come from the cache
    assert bronze_count("r2")["bronze_distinct_tweet_ids"] == 24
    # a bronze file rewritten with one more tweet: read again (an odd element such as a null tweet would
    # now set the whole line aside, as the build does: tests/unit/test_bronze_shapes.py)
    day2 = ids[DAY2.isoformat()]
    page = bronze_page([*day2, "4243"])
    write_bronze(lake, DAY2, [page, bronze_page(day2[:3])])
    third = run_validation(lake, run_id="r3")
    assert not third.success
    [fail] = third.failures
    assert fail.expectation == "expect_table_row_count_to_equal_bronze_tweets" and fail.examples == ["4243"]
    assert bronze_count("r3")["bronze_distinct_tweet_ids"] == 25


def test_quality_freshness_and_future_are_relative_to_the_reference_time(local_settings: Settings) -> None:
    lake = Lake.from_settings(local_settings)
    make_contract_lake(lake)
    stale = run_validation(lake, as_of="2026-12-31T00:00:00Z", layers=("silver",))
    kinds = {(f.suite, f.expectation, f.column) for f in stale.failures}
    assert ("silver.tweets", "expect_column_max_to_be_between", "created_at") in kinds
    assert run_validation(lake, as_of="2026-12-31T00:00:00Z", max_age=24 * 60).success
    # rows already validated are not read again (incremental), so ask for a full pass
    future = run_validation(lake, as_of="2026-11-19T12:00:00Z", max_age=48, full=True)
    assert any(
        f.expectation == "expect_column_values_to_be_between" and f.column == "created_at"
        for f in future.failures
    )
