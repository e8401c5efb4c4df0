"""dbt silver and gold on a local lake: completeness, latest-wins, parsing, sentiment, incremental == full.

One lake is built incrementally over several ingests (module fixture); its bronze is then copied to a second
lake built in one --full-refresh, and to a third built with --full-refresh in batches of a few bronze files
(the path of a large backlog), and every table is compared. Expected values are computed independently
from bronze with plain json (tests/bronze_reader.py), never with the SQL under test.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_runtime.backlog import BronzeFile, pending_files
from dbt_runtime.runner import BuildError, build
from foundation.lake import Lake
from foundation.layout import BUILD_STATE, STAGING_GOLD
from foundation.layout import STAGING_SILVER as SILVER_DIR
from foundation.settings import DBT_PROJECT_DIR, Settings, load_settings
from foundation.workdir import work_dir
from pipeline.steps import run_build, run_ingest
from tests.bronze_reader import bronze, bronze_tweet_ids

pytestmark = pytest.mark.slow

SILVER = (
    "tweets",
    "users",
    "tweet_metrics",
    "hashtags",
    "mentions",
    "urls",
    "referenced_tweets",
    "api_errors",
    "media",
    "tweet_media",
    "polls",
    "tweet_polls",
    "places",
    "cashtags",
    "context_annotations",
    "annotations",
    "tweet_edits",
    "tweet_counts",
)
# silver.rejected_pages and silver.compliance_events too: empty in these lakes (no bronze line set aside, no
# compliance job run), so not among the tables compared row for row above (tests/test_dbt_shapes.py and
# tests/test_compliance.py fill them)
ALL_SILVER = (*SILVER, "rejected_pages", "compliance_events")
STATE = ("bronze_files", "tweet_sentiment")  # build state, in <lake>/_state/build/
GOLD = (
    "user_engagement_daily",
    "top_tweets",
    "hashtag_trends_daily",
    "sentiment_daily",
    "interactions",
    "tweets_export",
    "media_daily",
    "conversations",
    "conversation_links",
)
CONTRACT = {
    "silver/tweets": "tweet_id text text_clean lang created_at created_date author_id author_username "
    "conversation_id tweet_type referenced_tweet_id in_reply_to_user_id possibly_sensitive like_count "
    "retweet_count reply_count quote_count impression_count bookmark_count sentiment_score sentiment_label "
    "source endpoint stream first_seen_at last_seen_at text_truncated reply_settings client_app "
    "edit_history_tweet_ids latest_version_id withheld_country_codes withheld_copyright place_id longitude "
    "latitude media_keys poll_ids seen_in",
    "silver/users": "user_id username name description location verified created_at followers_count "
    "following_count tweet_count listed_count first_seen_at last_seen_at verified_type protected url "
    "profile_image_url pinned_tweet_id withheld_country_codes",
    "silver/media": "media_key media_type url preview_image_url alt_text width height duration_ms view_count "
    "variants first_seen_at last_seen_at",
    "silver/tweet_media": "tweet_id media_key position",
    "silver/polls": "poll_id options option_count total_votes duration_minutes end_at voting_status",
    "silver/tweet_polls": "tweet_id poll_id",
    "silver/places": "place_id full_name name country country_code place_type bbox",
    "silver/cashtags": "tweet_id tag tag_original start_index",
    "silver/context_annotations": "tweet_id domain_id domain_name entity_id entity_name",
    "silver/annotations": "tweet_id annotation_type normalized_text probability start_index end_index",
    "silver/tweet_edits": "tweet_id latest_tweet_id version versions is_latest",
    "gold/media_daily": "day stream media_type tweets media_items views",
    "silver/tweet_metrics": "tweet_id observed_at like_count retweet_count reply_count quote_count "
    "impression_count bookmark_count source endpoint stream",
    "silver/hashtags": "tweet_id tag tag_original start_index",
    "silver/mentions": "tweet_id mentioned_user_id mentioned_username start_index",
    "silver/urls": "tweet_id url expanded_url display_url domain start_index",
    "silver/referenced_tweets": "tweet_id referenced_tweet_id reference_type referenced_author_id "
    "referenced_text is_available",
    "silver/compliance_events": "id id_type action reason created_at redacted_at job_id",
    "silver/tweet_counts": "query stream_key source endpoint granularity window_start window_end tweet_count "
    "fetched_at run_id bronze_file",
    "silver/api_errors": "error_key title detail type resource_type resource_id parameter value source "
    "endpoint stream fetched_at run_id bronze_file",
    "gold/user_engagement_daily": "author_id author_username day tweets likes retweets replies quotes "
    "impressions engagement_rate",
    "gold/top_tweets": "day stream rank tweet_id author_username text engagement like_count retweet_count "
    "reply_count quote_count media_type media_types",
    "gold/hashtag_trends_daily": "day kind tag tweets authors engagement",
    "gold/sentiment_daily": "stream day tweets mean_score share_positive share_neutral share_negative",
    "gold/interactions": "source_user_id source_username target_user_id target_username interaction "
    "interactions first_at last_at",
    "gold/conversations": "conversation_id root_tweet_id root_collected root_author_id root_author_username "
    "root_created_at size replies depth depth_exact participants first_reply_at last_reply_at",
    "gold/conversation_links": "conversation_id tweet_id parent_tweet_id depth depth_exact author_id "
    "author_username created_at",
}
# Columns that legitimately differ between two builds of the same bronze (times of the build itself).
VOLATILE = {"processed_at", "scored_at", "mtime"}


def read_table(lake: Lake, layer: str, table: str) -> str:
    """A read_parquet() expression for a silver or build-state table folder or a staged gold file."""
    if layer == "gold":
        return f"read_parquet('{lake.url(STAGING_GOLD, table)}.parquet')"
    base = BUILD_STATE if layer == "state" else SILVER_DIR
    folder = lake.url(base, table)
    partitioned = bool(lake.glob(f"{base}/{table}/*/*.parquet"))
    pattern = f"{folder}/*/*.parquet" if partitioned else f"{folder}/*.parquet"
    return f"read_parquet('{pattern}', hive_partitioning = {str(partitioned).lower()})"


def query(lake: Lake, sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table_rows(lake: Lake, layer: str, table: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        rel = con.sql(f"select * from {read_table(lake, layer, table)}")
        columns = [c for c in rel.columns if c not in VOLATILE]
        quoted = ", ".join('"' + c + '"' for c in columns)
        rows = con.sql(f"select {quoted} from rel order by all").fetchall()
        # sums and means of doubles may differ in the last bits with the order rows were added in
        return columns, [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]
    finally:
        con.close()


def ingest(settings: Settings, tweets: int, days: int, end: str) -> None:
    run_ingest(settings, "sample", tweets=tweets, days=days, end_date=date.fromisoformat(end))


@pytest.fixture(scope="module")
def incremental_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Three ingests, each followed by an incremental build; the .duckdb file deleted before the last."""
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("inc") / "lake")})
    ingest(settings, 1200, 3, "2026-11-18")
    run_build(settings)
    ingest(settings, 400, 1, "2026-11-19")
    run_build(settings)
    run_build(settings)  # nothing new: a no-op
    ingest(settings, 400, 1, "2026-11-20")
    # The lake is the truth: a lost .duckdb file (or a new machine) must not change the result.
    for leftover in work_dir(settings.lake).glob("tweetlake.duckdb*"):
        leftover.unlink()
    run_build(settings)
    yield settings


@pytest.fixture(scope="module")
def full_lake(incremental_lake: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The same bronze, copied to a new lake and built in one go with --full-refresh."""
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("full") / "lake")})
    shutil.copytree(Path(incremental_lake.lake) / "bronze", Path(settings.lake) / "bronze")
    run_build(settings, full_refresh=True)
    return settings


@dataclass
class Batched:
    settings: Settings
    bad: str  # the bronze file that failed the last batch (lake-relative)
    failure: str  # the BuildError's message
    recorded_at_failure: set[str]  # _state/build/bronze_files after the failure


@pytest.fixture(scope="module")
def batched_lake(incremental_lake: Settings, tmp_path_factory: pytest.TempPathFactory) -> Batched:
    """The same bronze again, built with --full-refresh in batches of ~1/3 of it (TWEETLAKE_BUILD_BATCH),
    with a file that cannot be read in the last batch (a dangling link: a bad line no longer stops a build,
    it is set aside, but a file that cannot be opened still does): that batch fails, the file is restored,
    and a plain rerun carries on, as a user would after a crash mid-backlog."""
    root = tmp_path_factory.mktemp("batched") / "lake"
    shutil.copytree(Path(incremental_lake.lake) / "bronze", root / "bronze")
    size = sum(p.stat().st_size for p in (root / "bronze").rglob("*.jsonl"))
    settings = load_settings({"TWEETLAKE_LAKE": str(root), "TWEETLAKE_BUILD_BATCH": str(size // 3 + 1)})
    bad = max(pending_files(settings), key=lambda f: f.sort_key).bronze_file
    good = (root / bad).read_bytes()
    (root / bad).unlink()
    (root / bad).symlink_to(root / "gone.jsonl")
    said: list[str] = []
    with pytest.raises(BuildError) as failed:
        run_build(settings, full_refresh=True, progress=said.append)
    assert len([line for line in said if line.startswith("batch ")]) >= 3, said
    lake = Lake.from_settings(settings)
    files = f"select bronze_file from {read_table(lake, 'state', 'bronze_files')}"
    recorded = {r[0] for r in query(lake, files)}

    (root / bad).unlink()
    (root / bad).write_bytes(good)
    summary = run_build(settings)
    assert summary.errored == 0 and summary.passed > 0
    return Batched(settings, bad, str(failed.value), recorded)


def latest_observations(lake: Lake, users: bool = False) -> dict[str, dict[str, Any]]:
    """Each tweet's (or with ``users``, each included user's) latest observation in bronze (fetched_at,
    then file, page, position), by plain json; users also get their first and last ``fetched_at``. A
    tweet's observations in pages' data outrank those in includes.tweets (silver.tweets' rule)."""
    latest: dict[str, tuple[tuple, dict[str, Any]]] = {}
    seen: dict[str, list[str]] = {}
    for rec in bronze(lake):
        env = rec.envelope
        items = (rec.response.get("includes") or {}).get("users") if users else rec.tweets + rec.expansions
        own = len(rec.tweets)
        for pos, item in enumerate(items or []):
            key = (users or pos < own, env["fetched_at"], rec.rel, env.get("page_number") or 0, pos)
            if item["id"] not in latest or key > latest[item["id"]][0]:
                latest[item["id"]] = (key, item)
            seen.setdefault(item["id"], []).append(env["fetched_at"])
    if users:
        return {
            uid: {**item, "first_seen": min(seen[uid]), "last_seen": max(seen[uid])}
            for uid, (_, item) in latest.items()
        }
    return {tid: tweet for tid, (_, tweet) in latest.items()}


def test_every_bronze_tweet_is_in_silver_once(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    ids = bronze_tweet_ids(lake)
    assert len(ids) > 1500
    rows = query(lake, f"select tweet_id from {read_table(lake, 'silver', 'tweets')}")
    silver_ids = [r[0] for r in rows]
    assert len(silver_ids) == len(set(silver_ids)) == len(ids)
    assert set(silver_ids) == ids


def test_latest_observation_wins_and_text_is_unescaped(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    latest = latest_observations(lake)
    observed = {}
    for rec in bronze(lake):
        for t in rec.tweets:
            observed[t["id"]] = observed.get(t["id"], 0) + 1
    reobserved = {tid for tid, n in observed.items() if n > 1}
    assert reobserved, "the sample source re-observes tweets; this test needs some"
    rows = query(
        lake,
        f"select tweet_id, like_count, retweet_count, impression_count, text "
        f"from {read_table(lake, 'silver', 'tweets')}",
    )
    changed = 0
    for tweet_id, likes, retweets, impressions, text in rows:
        expected = latest[tweet_id]
        metrics = expected.get("public_metrics") or {}
        assert likes == metrics.get("like_count", 0), tweet_id
        assert retweets == metrics.get("retweet_count", 0), tweet_id
        assert impressions == metrics.get("impression_count"), tweet_id
        whole = (expected.get("note_tweet") or {}).get("text") or expected["text"]  # a long post's
        assert text == html.unescape(whole), tweet_id
        changed += tweet_id in reobserved
    assert changed == len(reobserved)
    escaped = [t for t in latest.values() if "&amp;" in t["text"] or "&lt;" in t["text"]]
    assert escaped, "the sample source escapes some texts; this test needs some"


def test_each_user_is_its_latest_profile(incremental_lake: Settings) -> None:
    """silver.users: one row per user ever included, its latest observation's profile, and the first and
    last time any page included it (across both builds of the incremental lake)."""
    lake = Lake.from_settings(incremental_lake)
    latest = latest_observations(lake, users=True)
    rows = query(
        lake,
        "select user_id, username, description, followers_count, "
        "strftime(first_seen_at, '%Y-%m-%dT%H:%M:%S'), strftime(last_seen_at, '%Y-%m-%dT%H:%M:%S') "
        f"from {read_table(lake, 'silver', 'users')}",
    )
    assert len(rows) == len({r[0] for r in rows}) == len(latest)
    changed = 0
    for user_id, username, description, followers, first_seen, last_seen in rows:
        expected = latest[user_id]
        assert username == expected["username"], user_id
        raw = expected.get("description")
        assert description == (None if raw is None else html.unescape(raw)), user_id
        assert followers == expected["public_metrics"]["followers_count"], user_id
        assert (first_seen, last_seen) == (expected["first_seen"][:19], expected["last_seen"][:19]), user_id
        changed += first_seen != last_seen
    assert changed, "the sample source re-observes users; this test needs some"


def test_metrics_history_has_every_observation(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    expected = {
        (t["id"], rec.envelope["fetched_at"][:19], rec.envelope["stream"])
        for rec in bronze(lake)
        for t in rec.tweets + rec.expansions
    }
    rows = query(
        lake,
        "select tweet_id, strftime(observed_at, '%Y-%m-%dT%H:%M:%S'), stream "
        f"from {read_table(lake, 'silver', 'tweet_metrics')}",
    )
    assert len(rows) == len(set(rows)) == len(expected)
    assert set(rows) == expected


def test_sentiment_is_vaders_own_score(incremental_lake: Settings) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lake = Lake.from_settings(incremental_lake)
    analyzer = SentimentIntensityAnalyzer()
    rows = query(
        lake,
        f"select text, text_clean, sentiment_score "
        f"from {read_table(lake, 'silver', 'tweets')} using sample 60 rows (reservoir, 7)",
    )
    for text, clean, score in rows:
        assert "http" not in clean and not clean.startswith("RT @") and "@" not in clean, text
        expected = analyzer.polarity_scores(clean)["compound"]
        assert score == pytest.approx(expected, abs=1e-12), clean
    # scored once: no text hash twice in the lake's sentiment table
    dupes = query(
        lake,
        f"select count(*) - count(distinct text_hash) from {read_table(lake, 'state', 'tweet_sentiment')}",
    )
    assert dupes == [(0,)]


def test_api_errors_and_deleted_references(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    errors = [e for rec in bronze(lake) for e in rec.response.get("errors") or []]
    # every error is kept, those about no resource too (a stream's operational-disconnect message)
    about_a_resource = sum(e.get("resource_id") is not None for e in errors)
    assert 0 < about_a_resource < len(errors)
    rows = query(
        lake,
        f"select count(*), count(distinct error_key), count(resource_id) "
        f"from {read_table(lake, 'silver', 'api_errors')}",
    )
    assert rows == [(len(errors), len(errors), about_a_resource)]
    # a reference the API could not return (deleted tweet) is kept, marked unavailable
    missing = query(
        lake,
        f"select count(*) from {read_table(lake, 'silver', 'referenced_tweets')} r "
        f"join {read_table(lake, 'silver', 'api_errors')} e on e.resource_id = r.referenced_tweet_id "
        "where not r.is_available",
    )
    assert missing[0][0] > 0


def test_contract_columns(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    for name, columns in CONTRACT.items():
        layer, table = name.split("/")
        have = table_rows(lake, layer, table)[0]
        missing = [c for c in columns.split() if c not in have]
        assert not missing, f"{name} lacks {missing}"
    export_cols, _ = table_rows(lake, "gold", "tweets_export")
    assert export_cols == ["user", "text", "like_count", "retweet_count", "created_at"]


def test_gold_invariants(incremental_lake: Settings) -> None:
    lake = Lake.from_settings(incremental_lake)
    shares = query(
        lake,
        "select max(abs(share_positive + share_neutral + share_negative - 1)), count(*) "
        f"from {read_table(lake, 'gold', 'sentiment_daily')}",
    )
    assert shares[0][0] < 1e-9 and shares[0][1] > 0
    ranks = query(
        lake, f"select min(rank), max(rank), count(*) from {read_table(lake, 'gold', 'top_tweets')}"
    )
    assert ranks[0][0] == 1 and ranks[0][1] == 10
    rates = query(
        lake,
        "select count(*) filter (where engagement_rate is not null and not (impressions > 0)), "
        "count(*) filter (where impressions > 0 and engagement_rate is null), "
        "count(*) filter (where impressions > 0 and abs(engagement_rate - "
        "(likes + retweets + replies + quotes) / impressions) > 1e-12) "
        f"from {read_table(lake, 'gold', 'user_engagement_daily')}",
    )
    assert rates == [(0, 0, 0)]
    kinds = {r[0] for r in query(lake, f"select interaction from {read_table(lake, 'gold', 'interactions')}")}
    assert kinds == {"reply", "mention", "quote", "retweet"}
    total = query(lake, f"select count(*) from {read_table(lake, 'gold', 'tweets_export')}")[0][0]
    assert total == len(bronze_tweet_ids(lake, expansions=False))


def test_interactions_count_replies_and_mentions(incremental_lake: Settings) -> None:
    """gold.interactions against plain json: per (source, target), the replies and the mentions (a retweet's
    `RT @x` not counted) of each tweet's latest observation, and the target's latest username."""
    lake = Lake.from_settings(incremental_lake)
    users = latest_observations(lake, users=True)
    expected: dict[tuple[str, str, str], int] = {}
    for tweet in latest_observations(lake).values():
        author = tweet.get("author_id")
        if tweet.get("in_reply_to_user_id"):
            key = (author, tweet["in_reply_to_user_id"], "reply")
            expected[key] = expected.get(key, 0) + 1
        if any(r.get("type") == "retweeted" for r in tweet.get("referenced_tweets") or []):
            continue
        for m in (tweet.get("entities") or {}).get("mentions") or []:
            if m.get("id"):
                key = (author, m["id"], "mention")
                expected[key] = expected.get(key, 0) + 1
    rows = query(
        lake,
        "select source_user_id, target_user_id, interaction, interactions, target_username "
        f"from {read_table(lake, 'gold', 'interactions')} where interaction in ('reply', 'mention')",
    )
    assert {(s, t, i): n for s, t, i, n, _ in rows} == expected
    assert any(i == "mention" for _, _, i in expected) and any(i == "reply" for _, _, i in expected)
    known = [(t, name) for _, t, _, _, name in rows if t in users]
    assert known and all(name == users[t]["username"] for t, name in known)


def test_daily_gold_recomputes_only_the_days_whose_silver_changed(incremental_lake: Settings) -> None:
    """A rebuild with no silver change recomputes no day (the gold file's rows are kept); a silver partition
    newer than the gold file gets its day recomputed, and only it; the table stays the same throughout."""
    lake = Lake.from_settings(incremental_lake)
    gold_root = lake.url(STAGING_GOLD)
    target = work_dir(incremental_lake.lake) / "target"
    compiled = target / "compiled/tweetlake/models/gold/user_engagement_daily.sql"
    before = table_rows(lake, "gold", "user_engagement_daily")
    partitions = sorted((Path(incremental_lake.lake) / SILVER_DIR / "tweets").glob("dt=*/data_0.parquet"))
    days = [p.parent.name.removeprefix("dt=") for p in partitions]

    build(incremental_lake, select="user_engagement_daily", gold_root=gold_root)
    sql = compiled.read_text()
    assert re.search(r"(where|and)\s+false", sql)
    assert re.findall(r"date '([0-9-]+)'", sql) == days  # all kept
    assert table_rows(lake, "gold", "user_engagement_daily") == before

    os.utime(partitions[1])  # as if a build had just rewritten that day
    build(incremental_lake, select="user_engagement_daily", gold_root=gold_root)
    sql = compiled.read_text()
    recomputed = re.search(r"dt in \(([^)]*)\)", sql)
    assert recomputed and re.findall(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", recomputed.group(1)) == [days[1]]
    assert table_rows(lake, "gold", "user_engagement_daily") == before


@pytest.mark.parametrize(
    "layer,table",
    [("silver", t) for t in SILVER] + [("state", t) for t in STATE] + [("gold", t) for t in GOLD],
)
def test_incremental_equals_full_refresh(
    incremental_lake: Settings, full_lake: Settings, batched_lake: Batched, layer: str, table: str
) -> None:
    inc_cols, inc_rows = table_rows(Lake.from_settings(incremental_lake), layer, table)
    full_cols, full_rows = table_rows(Lake.from_settings(full_lake), layer, table)
    assert inc_cols == full_cols
    assert len(inc_rows) == len(full_rows) > 0
    assert inc_rows == full_rows
    assert table_rows(Lake.from_settings(batched_lake.settings), layer, table) == (full_cols, full_rows)


def test_backlog_batches_follow_ingest_date_and_the_budget(batched_lake: Batched) -> None:
    """Each batch records its bronze files (_state/build/bronze_files.processed_at, one time per dbt run): the
    batches must come in sort-key order (ingest date, path), each within the budget."""
    lake = Lake.from_settings(batched_lake.settings)
    rows = query(
        lake, f"select bronze_file, size, processed_at from {read_table(lake, 'state', 'bronze_files')}"
    )
    batches: dict[Any, list[BronzeFile]] = {}
    for name, size, at in rows:
        batches.setdefault(at, []).append(BronzeFile(name, size, ""))
    in_order = [sorted(batches[at], key=lambda f: f.sort_key) for at in sorted(batches)]
    assert len(in_order) >= 3
    keys = [f.sort_key for batch in in_order for f in batch]
    assert keys == sorted(keys)
    for batch in in_order:
        assert len(batch) == 1 or sum(f.size for f in batch) <= batched_lake.settings.build_batch_bytes


def test_a_failed_batch_says_where_and_how_to_carry_on(batched_lake: Batched) -> None:
    """The last batch failed on the bad file: the error names the file, its problem, the batches built,
    and the command that carries on; the earlier batches stayed recorded. (That the rerun then completes
    the lake exactly is test_incremental_equals_full_refresh.)"""
    message = batched_lake.failure
    assert batched_lake.bad.rsplit("/", 1)[1] in message and "No such file" in message
    where = re.search(r"batch (\d+)/(\d+) failed; (batch 1 is|batches 1-(\d+) are) built", message)
    assert where and where.group(1) == where.group(2) != "1", message
    assert "run `tweetlake build` (without --full-refresh) to carry on" in message
    assert batched_lake.recorded_at_failure and batched_lake.bad not in batched_lake.recorded_at_failure


def test_no_stale_or_temporary_files(
    incremental_lake: Settings, full_lake: Settings, batched_lake: Batched
) -> None:
    for settings in (incremental_lake, full_lake, batched_lake.settings):
        root = Path(settings.lake)
        for folder in [root / SILVER_DIR / t for t in ALL_SILVER] + [root / BUILD_STATE / t for t in STATE]:
            table = folder.name
            names = {p.name for p in folder.rglob("*") if p.is_file()}
            assert all(n.endswith(".parquet") and not n.startswith(".") for n in names), (table, names)
            if table != "tweet_sentiment":  # append-only, compacted now and then
                assert names == {"data_0.parquet"}, (table, names)
        assert not list((root / "_staging" / "_scratch").glob("*"))
        assert sorted(p.name for p in (root / SILVER_DIR).iterdir()) == sorted(ALL_SILVER)  # no state here


def test_full_refresh_rewrites_in_place(full_lake: Settings) -> None:
    """A second --full-refresh over a lake with an extra stale partition removes it; sentiment is kept."""
    lake = Lake.from_settings(full_lake)
    stale = Path(full_lake.lake) / SILVER_DIR / "tweets" / "dt=1999-01-01"
    stale.mkdir()
    shutil.copy(next((Path(full_lake.lake) / SILVER_DIR / "tweets").glob("dt=2026-*/data_0.parquet")), stale)
    scored_before = lake.glob(f"{BUILD_STATE}/tweet_sentiment/*.parquet")
    run_build(full_lake, full_refresh=True)
    assert not stale.exists()
    assert scored_before and lake.glob(f"{BUILD_STATE}/tweet_sentiment/*.parquet") == scored_before
    assert set(r[0] for r in query(lake, f"select tweet_id from {read_table(lake, 'silver', 'tweets')}")) == (
        bronze_tweet_ids(lake)
    )


def test_unit_test_schema_matches_the_bronze_source(incremental_lake: Settings) -> None:
    """The dbt unit test inlines the bronze schema (no macros there): it must stay what the macro gives."""
    from dbt_runtime.runner import run_dbt

    said: list[str] = []
    run_dbt(
        incremental_lake,
        ["compile", "--inline", "{{ bronze_columns('tweets') }}", "--quiet"],
        progress=said.append,
    )
    compiled = [line.removeprefix("  dbt | ") for line in said if "'envelope'" in line]
    unit = (DBT_PROJECT_DIR / "models/staging/stg_tweets.yml").read_text()
    inlined = re.findall(r"columns = (\{.*\})\)", unit)
    assert len(compiled) == 1 and inlined == compiled


def test_dbt_docs_generate(incremental_lake: Settings) -> None:
    from dbt_runtime.runner import run_dbt

    run_dbt(incremental_lake, ["docs", "generate"])
    target = work_dir(incremental_lake.lake) / "target"
    assert (target / "catalog.json").exists() and (target / "index.html").exists()


def test_build_selects_layers(incremental_lake: Settings) -> None:
    summary = build(
        incremental_lake, select="tag:gold", gold_root=Lake.from_settings(incremental_lake).url(STAGING_GOLD)
    )
    assert summary.errored == 0 and summary.passed > 0
    assert os.path.exists(Path(incremental_lake.lake) / STAGING_GOLD / "tweets_export.parquet")


def test_labels_in_silver_follow_the_threshold(incremental_lake: Settings) -> None:
    """Every tweet's sentiment_label is its score against the project's one threshold (var
    sentiment_threshold in dbt_project.yml), whichever build wrote it."""
    import yaml

    threshold = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"][
        "sentiment_threshold"
    ]
    lake = Lake.from_settings(incremental_lake)
    rows = query(lake, f"select sentiment_score, sentiment_label from {read_table(lake, 'silver', 'tweets')}")
    assert rows
    for score, label in rows:
        assert label == (
            "positive" if score >= threshold else "negative" if score <= -threshold else "neutral"
        )
    assert {label for _, label in rows} == {"positive", "neutral", "negative"}


def test_one_model_rebuilds_on_its_own(
    incremental_lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dbt run -s tweets` (README, dbt by hand) works after a build: staging and intermediate stay in the
    staging DuckDB file. Without them (here: `tweetlake build`, which keeps them in memory) it fails with
    one line saying what to run."""
    from dbt_runtime.runner import run_dbt

    lake = Lake.from_settings(incremental_lake)
    before = table_rows(lake, "silver", "tweets")
    said: list[str] = []
    with pytest.raises(BuildError):
        run_dbt(incremental_lake, ["run", "-s", "tweets"], progress=said.append)
    hint = [line for line in said if "run `dbt build -s +tweets`" in line]
    assert len(hint) == 1 and "tweets reads stg_tweets, which is not built" in hint[0], said

    monkeypatch.setenv("TWEETLAKE_STAGING_DB", str(tmp_path / "staging.duckdb"))  # as by hand
    run_dbt(incremental_lake, ["build", "-s", "+tweets"])
    summary = run_dbt(incremental_lake, ["run", "-s", "tweets"])
    assert summary.errored == 0 and summary.passed >= 1
    assert table_rows(lake, "silver", "tweets") == before

    assert table_rows(lake, "silver", "tweets") == before


def test_a_lake_with_state_in_silver_is_migrated(incremental_lake: Settings, tmp_path: Path) -> None:
    """A lake laid out the old way (build state in silver/bronze_files and silver/tweet_sentiment) builds
    again with nothing reprocessed and nothing rescored; its state ends up in _state/build/."""
    root = tmp_path / "lake"
    shutil.copytree(incremental_lake.lake, root)
    settings = load_settings({"TWEETLAKE_LAKE": str(root)})
    files = {
        t: sorted(p.relative_to(root / BUILD_STATE / t) for p in (root / BUILD_STATE / t).rglob("*.parquet"))
        for t in STATE
    }
    old = Lake.from_settings(settings)
    processed = query(
        old, f"select bronze_file, processed_at from {read_table(old, 'state', 'bronze_files')}"
    )
    (root / "silver").mkdir(exist_ok=True)
    for table in STATE:
        (root / BUILD_STATE / table).rename(root / "silver" / table)
    tweets = {p: p.stat().st_mtime_ns for p in (root / SILVER_DIR / "tweets").rglob("*.parquet")}
    said: list[str] = []
    summary = run_build(settings, progress=said.append)
    assert summary.errored == 0
    assert any("build state moved to _state/build/" in line for line in said), said
    for table in STATE:
        assert not (root / "silver" / table).exists()
    moved = {
        t: sorted(p.relative_to(root / BUILD_STATE / t) for p in (root / BUILD_STATE / t).rglob("*.parquet"))
        for t in STATE
    }
    assert moved == files  # the same files: no new sentiment file (nothing rescored), no new bronze record
    lake = Lake.from_settings(settings)
    recorded = query(
        lake, f"select bronze_file, processed_at from {read_table(lake, 'state', 'bronze_files')}"
    )
    assert sorted(recorded) == sorted(processed)  # no file processed again
    assert {p: p.stat().st_mtime_ns for p in (root / SILVER_DIR / "tweets").rglob("*.parquet")} == tweets
    assert pending_files(settings) == []
