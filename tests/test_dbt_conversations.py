"""Gold ``conversations`` and ``conversation_links`` built by real dbt: from a hand-built page with a known
tree (root, replies at depth 1 and 2, a reply whose parent was never collected, a conversation whose root
was never collected), checked against numbers computed here; and non-trivial on the sample lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.lake import Lake
from foundation.layout import STAGING_GOLD
from foundation.settings import Settings, load_settings
from pipeline.steps import run_build, run_ingest

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EPOCH_MS = 1288834974657


def tweet(
    n: int, minutes: int, author: str, conversation: int, parent: int | None = None, **extra: Any
) -> dict[str, Any]:
    tid = _id(n)
    body: dict[str, Any] = {
        "id": tid,
        "text": f"tweet {n}",
        "author_id": author,
        "created_at": (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conversation_id": _id(conversation),
        "edit_history_tweet_ids": [tid],
        "lang": "en",
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0},
        **extra,
    }
    if parent is not None:
        body["referenced_tweets"] = [{"type": "replied_to", "id": _id(parent)}]
    return body


def _id(n: int) -> str:
    """A snowflake id minted n minutes after T0 (ids grow with time, like the API's)."""
    return str(((int((T0 + timedelta(minutes=n)).timestamp() * 1000) - EPOCH_MS) << 22) | n)


# conversation 1: root 1; 2 and 3 answer it (depth 1); 4 answers 2 (depth 2); 6 answers 5, never collected
# (depth 2 at least), 7 answers 6; a retweet of the root (not part of it). Conversation 10: its root was
# never collected, 11 answers it (depth 1). Tweet 20: no reply, no conversation.
TWEETS = [
    tweet(1, 1, "u1", 1),
    tweet(2, 2, "u2", 1, parent=1),
    tweet(3, 3, "u3", 1, parent=1),
    tweet(4, 4, "u1", 1, parent=2),
    tweet(6, 6, "u4", 1, parent=5),
    tweet(7, 7, "u2", 1, parent=6),
    tweet(8, 8, "u5", 8, referenced_tweets=[{"type": "retweeted", "id": _id(1)}], text="RT @u1: tweet 1"),
    tweet(11, 11, "u5", 10, parent=10),
    tweet(20, 20, "u6", 20),
]


def expected() -> dict[str, dict[str, Any]]:
    """gold.conversations from TWEETS, computed here: the depth walk in Python."""
    tweets = [t for t in TWEETS if not any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))]
    by_id = {t["id"]: t for t in tweets}
    parent = {t["id"]: t["referenced_tweets"][0]["id"] for t in tweets if "referenced_tweets" in t}

    def depth(tid: str, conversation: str) -> tuple[int, bool]:
        if tid == conversation:
            return 0, True
        up = parent[tid]
        if up == conversation:
            return 1, True
        if up not in by_id:  # never collected: at depth 1 at least, the chain above it unknown
            return 2, False
        d, exact = depth(up, conversation)
        return d + 1, exact

    out: dict[str, dict[str, Any]] = {}
    for cid in {t["conversation_id"] for t in tweets}:
        members = [t for t in tweets if t["conversation_id"] == cid]
        replies = [t for t in members if t["id"] != cid]
        if not replies:
            continue
        depths = [depth(t["id"], cid) for t in members]
        out[cid] = {
            "size": len(members),
            "replies": len(replies),
            "depth": max(d for d, _ in depths),
            "depth_exact": all(e for _, e in depths),
            "participants": len({t["author_id"] for t in members}),
            "first_reply_at": min(t["created_at"] for t in replies),
            "last_reply_at": max(t["created_at"] for t in replies),
            "root_collected": cid in by_id,
        }
    return out


def gold(lake: Lake, table: str, sql: str) -> list[tuple]:
    path = lake.url(STAGING_GOLD, f"{table}.parquet")
    return duckdb.sql(sql.replace("{t}", f"read_parquet('{path}')")).fetchall()


def test_conversations_from_a_known_tree(tmp_path: Path) -> None:
    users = [{"id": u, "name": u, "username": u} for u in ("u1", "u2", "u3", "u4", "u5", "u6")]
    page = tmp_path / "conversations.json"
    page.write_text(json.dumps({"data": TWEETS, "includes": {"users": users}, "meta": {"result_count": 9}}))
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path / "lake")})
    run_ingest(settings, "replay", path=str(page))
    run_build(settings)
    lake = Lake.from_settings(settings)

    rows = gold(
        lake,
        "conversations",
        "select conversation_id, root_tweet_id, root_collected, root_author_id, size, replies, depth, "
        "depth_exact, participants, strftime(first_reply_at, '%Y-%m-%dT%H:%M:%S.000Z'), "
        "strftime(last_reply_at, '%Y-%m-%dT%H:%M:%S.000Z') from {t}",
    )
    want = expected()
    assert len(want) == 2 and {r[0] for r in rows} == set(want)
    for cid, root, collected, author, size, replies, depth, exact, participants, first, last in rows:
        assert root == cid
        assert (collected, author) == ((True, "u1") if cid == _id(1) else (False, None))
        got = dict(size=size, replies=replies, depth=depth, depth_exact=exact, participants=participants)
        got |= dict(first_reply_at=first, last_reply_at=last, root_collected=collected)
        assert got == want[cid], cid
    tree = want[_id(1)]
    assert (tree["size"], tree["depth"], tree["participants"]) == (6, 3, 4)  # the tree drawn above

    links = dict(
        (tid, (parent, depth, exact))
        for tid, parent, depth, exact in gold(
            lake, "conversation_links", "select tweet_id, parent_tweet_id, depth, depth_exact from {t}"
        )
    )
    assert links == {
        _id(1): (None, 0, True),
        _id(2): (_id(1), 1, True),
        _id(3): (_id(1), 1, True),
        _id(4): (_id(2), 2, True),
        _id(6): (_id(5), 2, False),  # its parent was never collected: a lower bound
        _id(7): (_id(6), 3, False),
        _id(11): (_id(10), 1, True),  # a reply to a root never collected: exact all the same
    }


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings({"TWEETLAKE_LAKE": str(tmp_path_factory.mktemp("sample") / "lake")})
    run_ingest(settings, "sample", tweets=3000, days=3)
    run_build(settings)
    return settings


def test_the_sample_lake_has_conversation_trees(sample_lake: Settings) -> None:
    lake = Lake.from_settings(sample_lake)
    (conversations, deep, biggest, exact) = gold(
        lake,
        "conversations",
        "select count(*), count(*) filter (where depth >= 2), max(size), bool_and(depth_exact) from {t}",
    )[0]
    assert conversations > 20 and deep > 0 and biggest > 2 and exact
    # each link's parent is a tweet of the same conversation one level up (or the root, known by its id)
    broken = gold(
        lake,
        "conversation_links",
        "select count(*) from {t} c left join {t} p on p.tweet_id = c.parent_tweet_id "
        "where c.depth > 0 and c.parent_tweet_id != c.conversation_id "
        "and (p.tweet_id is null or p.depth != c.depth - 1 or p.conversation_id != c.conversation_id)",
    )
    assert broken == [(0,)]
    # size is every tweet of the conversation in silver (no retweet; the sample edits no reply)
    silver = lake.url("_staging/silver", "tweets", "*", "*.parquet")
    mismatched = gold(
        lake,
        "conversations",
        f"with s as (select conversation_id, count(*) as n from read_parquet('{silver}') "
        "where tweet_type != 'retweet' group by 1) "
        "select count(*) from {t} g join s using (conversation_id) where s.n != g.size",
    )
    assert mismatched == [(0,)]
