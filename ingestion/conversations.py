"""Conversations: following the replies to the tweets an ingest landed (``--conversations``).

The API has no "replies of" endpoint; recent search's ``conversation_id:`` operator matches every post of
a conversation (the root, whose id is the conversation id, and every reply below it). Many conversations
go into one query, ``conversation_id:1 OR conversation_id:2 ...``, packed up to the access level's query
length (``TWEETLAKE_QUERY_MAX_LENGTH``: 512 characters on self-serve recent search, 4,096 on Enterprise;
docs.x.com "Search Posts: integrate", read 2026-12-03), so following N conversations costs about N / 13
requests at 512 characters, not N.

What is followed is kept in the lake, per stream that found it (``_state/conversations/endpoint=<e>/<stream
key>.json``: conversation id -> the newest id known of it, ``since_id``), so:

- an ingest registers the conversations of each pull right after the pull is committed (a crash later in
  the run cannot lose them: the next run follows them);
- a conversation's ``since_id`` starts just below its id (the root itself is fetched: a reply's root may
  never have been collected) and moves, only forward, to the newest id of the pack that searched it, once
  that pack's pages are committed (the pack covered every post of its conversations up to then);
- a conversation is followed until 7 days pass with nothing newer known in it: recent search cannot see
  past 7 days, so it is dropped from the record, said in a log line (its tweets stay in bronze);
- one file per origin stream, written by the ingest of that stream only: the Airflow DAG's mapped ingest
  tasks (one per stream) never write one another's files.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from foundation.lake import Lake
from foundation.layout import CONVERSATIONS
from foundation.settings import ConfigError
from foundation.times import isoformat_z, utcnow
from ingestion.pages import snowflake_time, stream_key

log = logging.getLogger(__name__)

STREAM = "conversations"  # the bronze stream the conversation searches land under (endpoint search_recent)
OPERATOR = "conversation_id:"
JOIN = " OR "
# The documented query length of recent search on self-serve access (Enterprise: 4,096).
DEFAULT_QUERY_MAX_LENGTH = 512


def query_of(conversation_ids: Sequence[str]) -> str:
    """The OR query matching every post of ``conversation_ids``."""
    return JOIN.join(f"{OPERATOR}{cid}" for cid in conversation_ids)


def pack(
    conversation_ids: Sequence[str], max_length: int, since: Mapping[str, str] | None = None
) -> list[list[str]]:
    """``conversation_ids``, in their order, cut into the fewest consecutive groups whose query
    (:func:`query_of`) is at most ``max_length`` characters. Greedy is the fewest for consecutive groups:
    each group takes every id that still fits. An id whose term alone is longer than the limit is a
    configuration error (the API would refuse every query holding it).

    With ``since`` (each conversation's since_id; the ids in since_id order), a pack is searched from its
    first, oldest since_id, so a conversation joins it only if that reads none of its posts again: it
    has the same since_id, or it is new (since_id just below its root: it has no post below that)."""
    packs: list[list[str]] = []
    length = 0
    for cid in conversation_ids:
        term = len(OPERATOR) + len(cid)
        if term > max_length:
            raise ConfigError(
                f"TWEETLAKE_QUERY_MAX_LENGTH={max_length} is shorter than one conversation term "
                f"({OPERATOR}{cid}: {term} characters): set it to your access level's query length "
                f"({DEFAULT_QUERY_MAX_LENGTH} on self-serve recent search, 4096 on Enterprise)"
            )
        joins = since is None or not packs or since[cid] in (since[packs[-1][0]], start_since(cid))
        if packs and joins and length + len(JOIN) + term <= max_length:
            packs[-1].append(cid)
            length += len(JOIN) + term
        else:
            packs.append([cid])
            length = term
    return packs


def start_since(conversation_id: str) -> str:
    """The ``since_id`` a newly tracked conversation starts from: just below its root, so the root (id =
    conversation id) comes back too; every reply's id is larger (ids grow with time)."""
    return str(int(conversation_id) - 1)


@dataclass(frozen=True)
class Origin:
    """The pull that found conversations: its endpoint and query or account."""

    endpoint: str
    stream: str


@dataclass(frozen=True)
class Tracked:
    """A followed conversation: where its next search starts (``since_id``) and the newest id known in
    it (``newest_id``: how long it stays followed)."""

    since_id: str
    newest_id: str


class ConversationStore:
    """The conversations each stream follows, in ``_state/conversations/`` (see the module docstring)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    @staticmethod
    def _rel(origin: Origin) -> str:
        name = f"{stream_key(origin.stream)}.json"
        return posixpath.join(CONVERSATIONS, f"endpoint={origin.endpoint}", name)

    def load(self, origin: Origin) -> dict[str, Tracked]:
        """conversation id -> what is known of it, for ``origin``."""
        doc = self.lake.read_json(self._rel(origin), {}) or {}
        return {
            str(cid): Tracked(str(entry["since_id"]), str(entry["newest_id"]))
            for cid, entry in (doc.get("conversations") or {}).items()
        }

    def _save(self, origin: Origin, tracked: dict[str, Tracked]) -> None:
        self.lake.write_json(
            self._rel(origin),
            {
                "endpoint": origin.endpoint,
                "stream": origin.stream,
                "updated_at": isoformat_z(utcnow()),
                "conversations": {
                    cid: {"since_id": t.since_id, "newest_id": t.newest_id}
                    for cid, t in sorted(tracked.items(), key=lambda kv: int(kv[0]))
                },
            },
        )

    def track(self, origin: Origin, newest: dict[str, str]) -> int:
        """Follow the conversations of ``newest`` (conversation id -> the newest id of it the pull landed)
        for ``origin``: a new one from just below its root, one followed already keeps its ``since_id``;
        how many are new."""
        tracked = self.load(origin)
        merged = dict(tracked)
        for cid, seen in newest.items():
            known = tracked.get(cid)
            if known is None:
                merged[cid] = Tracked(start_since(cid), seen)
            elif int(seen) > int(known.newest_id):
                merged[cid] = Tracked(known.since_id, seen)
        if merged != tracked:
            self._save(origin, merged)
        return len(merged) - len(tracked)

    def advance(self, origin: Origin, conversation_ids: Iterable[str], newest: str) -> None:
        """A pack searched ``conversation_ids`` up to ``newest`` (the newest id it landed): their
        ``since_id`` and ``newest_id`` move there, never back, for ``origin``."""
        tracked = self.load(origin)
        merged = dict(tracked)
        for cid in conversation_ids:
            known = tracked.get(cid)
            if known is not None and int(newest) > int(known.since_id):
                merged[cid] = Tracked(newest, str(max(int(newest), int(known.newest_id))))
        if merged != tracked:
            self._save(origin, merged)

    def live(self, origins: Iterable[Origin], horizon: datetime) -> dict[str, str]:
        """The conversations ``origins`` follow, with the ``since_id`` to search them from (the newest of
        the origins'), less those with nothing known newer than ``horizon``: recent search cannot reach
        them, so they are dropped from the record (said in a log line; their tweets stay in bronze)."""
        followed: dict[str, str] = {}
        for origin in origins:
            tracked = self.load(origin)
            stale = {cid for cid, t in tracked.items() if snowflake_time(t.newest_id) < horizon}
            if stale:
                log.warning(
                    "conversations of %s %r: %d no longer followed (nothing newer than %s known in them, "
                    "beyond the 7 days recent search reaches); their tweets stay in bronze",
                    origin.endpoint,
                    origin.stream,
                    len(stale),
                    isoformat_z(horizon),
                )
                self._save(origin, {c: t for c, t in tracked.items() if c not in stale})
            for cid, t in tracked.items():
                if cid not in stale and int(t.since_id) > int(followed.get(cid, "0")):
                    followed[cid] = t.since_id
        return followed
