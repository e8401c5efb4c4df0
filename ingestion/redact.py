"""Compliance redaction of bronze: every bronze object that holds a removed post or user is rewritten without
them, atomically (one PUT or rename per object: a reader sees the old object or the new one), and every
other line of it, and every other object, stays byte-identical.

What a line loses (:class:`~ingestion.compliance.Events`):

- a page (``data`` a list): the removed posts (by id, or by a removed author) from ``data`` and
  ``includes.tweets``, the removed users from ``includes.users``; a page left with no post keeps its
  envelope and ``meta`` (the fetch happened) with ``data: []``;
- a single-post message, or a flattened (twarc2) post, that is itself removed: the whole line (nothing of it
  may stay); an inlined reference to a removed post keeps only its type and id;
- a post whose location is scrubbed (``scrub_geo``): its ``geo``;
- a line that is not JSON (set aside by the build) and names a removed id: the whole line.

A changed line is written back as compact JSON, the rest of the object as it was. Each rewrite is recorded
with the line numbers and the sha256 of the object before and after (``_state/compliance/redactions/``), so
what changed is auditable without keeping what was removed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from foundation.lake import Lake
from foundation.layout import BRONZE_GLOB, COMPLIANCE
from ingestion.compliance import Events

# every run of digits: ids are sent as strings, but an id sent as a JSON number is read as one too
_DIGITS = re.compile(rb"\d{1,20}")


@dataclass
class Redaction:
    files_scanned: int = 0
    files_rewritten: int = 0
    lines_rewritten: int = 0
    lines_dropped: int = 0
    tweets_removed: int = 0
    users_removed: int = 0
    geo_scrubbed: int = 0
    seconds: float = 0.0
    record: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"bronze redacted in {self.seconds:.1f}s: {self.files_rewritten:,} of {self.files_scanned:,} "
            f"object(s) rewritten ({self.lines_rewritten:,} line(s) rewritten, {self.lines_dropped:,} "
            f"removed); {self.tweets_removed:,} post(s) and {self.users_removed:,} user object(s) removed, "
            f"{self.geo_scrubbed:,} location(s) scrubbed"
        )


def redact_bronze(lake: Lake, events: Events, *, run_id: str, files: list[str] | None = None) -> Redaction:
    """Rewrite the bronze objects (``files``, default all) that hold what ``events`` removes; record what
    was rewritten."""
    started = time.perf_counter()
    done = Redaction()
    wanted = {i.encode() for i in events.tweets | events.users | events.scrub_geo}
    if wanted:
        for rel in lake.glob(BRONZE_GLOB) if files is None else files:
            done.files_scanned += 1
            data = lake.read_bytes(rel)
            if wanted.isdisjoint(_DIGITS.findall(data)):
                continue
            _redact_file(lake, rel, data, wanted, events, done)
    done.seconds = time.perf_counter() - started
    if done.files:
        done.record = f"{COMPLIANCE}/redactions/{run_id}.json"
        lake.write_json(done.record, {"run_id": run_id, "files": done.files})
    return done


def _redact_file(
    lake: Lake, rel: str, data: bytes, wanted: set[bytes], events: Events, done: Redaction
) -> None:
    lines = data.split(b"\n")
    rewritten: list[int] = []
    dropped: list[int] = []
    out: list[bytes] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or wanted.isdisjoint(_DIGITS.findall(line)):
            out.append(line)
            continue
        new = redact_line(line, events, done)
        if new is None:
            dropped.append(number)
        elif new != line:
            rewritten.append(number)
            out.append(new)
        else:
            out.append(line)
    if not rewritten and not dropped:
        return  # the ids were only mentioned (a reply to a removed user, say): nothing of theirs is here
    new_data = b"\n".join(out)
    lake.write_bytes(rel, new_data)
    done.files_rewritten += 1
    done.lines_rewritten += len(rewritten)
    done.lines_dropped += len(dropped)
    done.files.append(
        {
            "file": rel,
            "lines_rewritten": rewritten,
            "lines_removed": dropped,
            "sha256_before": hashlib.sha256(data).hexdigest(),
            "sha256_after": hashlib.sha256(new_data).hexdigest(),
        }
    )


def redact_line(line: bytes, events: Events, done: Redaction) -> bytes | None:
    """The line without what ``events`` removes: the same bytes when nothing is removed, None when nothing
    of it may stay."""
    try:
        doc = json.loads(line)
    except ValueError:
        done.tweets_removed += 1  # unreadable, so uncountable: one removal at least
        return None
    response = doc.get("response") if isinstance(doc, dict) else None
    if not isinstance(response, dict):
        return None
    before = done.tweets_removed + done.users_removed + done.geo_scrubbed
    data = response.get("data")
    if isinstance(data, list):
        response["data"] = _kept(data, events, done)
    elif isinstance(data, dict):
        if _removed(data, events):
            done.tweets_removed += 1
            return None
        _scrub(data, events, done)
    elif "id" in response and "text" in response and not _flattened_kept(response, events, done):
        return None
    _redact_includes(response.get("includes"), events, done)
    if done.tweets_removed + done.users_removed + done.geo_scrubbed == before:
        return line
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _flattened_kept(tweet: dict[str, Any], events: Events, done: Redaction) -> bool:
    """A flattened post (its expansions inlined) redacted in place; False when it is itself removed."""
    if _removed(tweet, events):
        done.tweets_removed += 1
        return False
    _scrub(tweet, events, done)
    refs = tweet.get("referenced_tweets")
    if isinstance(refs, list):  # an inlined reference to a removed post keeps only its type and id
        gone = [isinstance(r, dict) and "text" in r and _removed(r, events) for r in refs]
        tweet["referenced_tweets"] = [
            {"type": r.get("type"), "id": r.get("id")} if g else r for r, g in zip(refs, gone, strict=True)
        ]
        done.tweets_removed += sum(gone)
    return True


def _redact_includes(includes: Any, events: Events, done: Redaction) -> None:
    if not isinstance(includes, dict):
        return
    if isinstance(includes.get("tweets"), list):
        includes["tweets"] = _kept(includes["tweets"], events, done)
    if isinstance(includes.get("users"), list):
        users = includes["users"]
        includes["users"] = [
            u for u in users if not (isinstance(u, dict) and str(u.get("id")) in events.users)
        ]
        done.users_removed += len(users) - len(includes["users"])


def _removed(tweet: dict[str, Any], events: Events) -> bool:
    author = tweet.get("author")
    author_id = tweet.get("author_id") or (author.get("id") if isinstance(author, dict) else None)
    return str(tweet.get("id")) in events.tweets or str(author_id) in events.users


def _kept(tweets: list[Any], events: Events, done: Redaction) -> list[Any]:
    kept = [t for t in tweets if not (isinstance(t, dict) and _removed(t, events))]
    done.tweets_removed += len(tweets) - len(kept)
    for t in kept:
        if isinstance(t, dict):
            _scrub(t, events, done)
    return kept


def _scrub(tweet: dict[str, Any], events: Events, done: Redaction) -> None:
    if str(tweet.get("id")) in events.scrub_geo and "geo" in tweet:
        del tweet["geo"]
        done.geo_scrubbed += 1
