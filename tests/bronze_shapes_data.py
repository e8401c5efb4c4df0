"""Small bronze lines of every shape (ISSUE 15's table), written the way ingestion writes them:
``{"envelope": {...}, "response": <raw>}``, one per line. Shared by the classifier's unit tests and the
build's shape tests."""

from __future__ import annotations

import json
from typing import Any

FETCHED = "2026-11-20T10:00:00.000Z"


def tweet(tid: str, author: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "id": tid,
        "text": f"tweet {tid} #duckdb @alice https://t.co/x",
        "created_at": "2026-11-20T09:00:00.000Z",
        "author_id": author,
        "lang": "en",
        "public_metrics": {"retweet_count": 1, "reply_count": 0, "like_count": 2, "quote_count": 0},
        "entities": {
            "hashtags": [{"start": 10, "end": 17, "tag": "duckdb"}],
            "mentions": [{"start": 18, "end": 24, "username": "alice", "id": "u9"}],
            "urls": [
                {"start": 25, "end": 42, "url": "https://t.co/x", "expanded_url": "https://duckdb.org/"}
            ],
        },
        **extra,
    }


def user(uid: str) -> dict[str, Any]:
    return {
        "id": uid,
        "username": f"name{uid}",
        "name": f"User {uid}",
        "created_at": "2020-01-01T00:00:00.000Z",
    }


def line(response: Any, page_number: int, source: str = "replay", raw: bytes | None = None) -> bytes:
    """One bronze line; ``raw`` is the response's bytes as received (else ``response`` as JSON)."""
    env = {
        "source": source,
        "endpoint": "search_recent",
        "stream": "shapes",
        "fetched_at": FETCHED,
        "page_number": page_number,
        "run_id": "run-1",
        "run_key": "key-1",
    }
    body = raw if raw is not None else json.dumps(response).encode()
    return b'{"envelope":' + json.dumps(env).encode() + b',"response":' + body + b"}\n"


def page(ids: list[str]) -> dict[str, Any]:
    return {
        "data": [tweet(i) for i in ids],
        "includes": {"users": [user("u1")]},
        "meta": {"result_count": len(ids)},
    }


def single(tid: str) -> dict[str, Any]:
    """A filtered-stream message (``data`` an object, ``matching_rules``)."""
    return {
        "data": tweet(tid, "u2"),
        "includes": {"users": [user("u2")]},
        "matching_rules": [{"id": "1", "tag": "x"}],
    }


def flattened(tid: str, quoted: str, quoted_author: str = "u4") -> dict[str, Any]:
    """A ``twarc2 flatten`` line: the tweet at top level, its author and the quoted tweet inlined (a
    tweet itself: an observation of it, by its author)."""
    return {
        **tweet(
            tid,
            "u3",
            referenced_tweets=[
                {
                    "type": "quoted",
                    "id": quoted,
                    "text": "the quoted one",
                    "author_id": quoted_author,
                    "author": user(quoted_author),
                }
            ],
        ),
        "author": user("u3"),
        "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all", "version": "2.14.0"},
    }


def errors_only() -> dict[str, Any]:
    return {
        "errors": [
            {
                "title": "Not Found Error",
                "detail": "Could not find tweet",
                "value": 7,
                "resource_type": "tweet",
                "resource_id": "7",
                "parameter": "ids",
            }
        ]
    }


def empty() -> dict[str, Any]:
    return {"meta": {"result_count": 0}}


def mixed_file(prefix: str) -> tuple[bytes, set[str]]:
    """A file holding every shape, a blank keep-alive line among them, and the tweet ids it holds."""
    lines = [
        line(page([f"{prefix}1", f"{prefix}2"]), 1),
        line(single(f"{prefix}3"), 2),
        b"\n",
        line(flattened(f"{prefix}4", f"{prefix}9"), 3),
        line(errors_only(), 4),
        line(empty(), 5),
    ]
    return b"".join(lines), {f"{prefix}{i}" for i in (1, 2, 3, 4)}
