"""Sharing a dataset the way the developer terms allow: dehydrated (tweet ids), and hydrated back.

``tweetlake export --ids DIR`` writes ``DIR/tweet_ids.txt`` (one id per line, newest first: the format
twarc's ``dehydrate`` writes and ``hydrate`` reads) and ``DIR/manifest.json`` (the streams, their windows and
counts, the lake and gold's published versions). ``tweetlake rehydrate FILE`` looks the ids up again
(``GET /2/tweets``, 100 a request, through the API source: rate limits, retries, budgets), lands the answers
in bronze (``endpoint=tweets_lookup``, the file's name as the stream) and reports which ids are gone
(deleted, protected or suspended since: the API serves them no more).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.lake import Lake
from foundation.layout import PUBLISHED
from foundation.settings import ConfigError, Settings
from foundation.times import isoformat_z, utcnow
from ingestion.ingest import IngestSummary, ingest
from ingestion.sources import make_source
from ingestion.sources.api import ApiSource
from pipeline.query import connect

IDS_FILE = "tweet_ids.txt"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Export:
    ids_path: Path
    manifest_path: Path
    tweets: int


def export_ids(settings: Settings, out: Path) -> Export:
    """The lake's collected tweets (not those only seen as another's expansion) as ids and a manifest."""
    lake = Lake.from_settings(settings)
    con, views, damaged = connect(lake)
    try:
        if "silver.tweets" not in views:
            why = damaged.get(
                "silver.tweets",
                "nothing published yet: run `tweetlake refresh`, or build, validate and publish",
            )
            raise ConfigError(f"nothing to export: {lake.url('silver', 'tweets')} is not readable ({why})")
        collected = "from silver.tweets where seen_in is distinct from 'includes'"
        ids = [
            row[0]
            for row in con.execute(f"select tweet_id {collected} order by tweet_id::hugeint desc").fetchall()
        ]
        streams = con.execute(
            "select source, endpoint, stream, count(*), min(created_at), max(created_at) "
            f"{collected} group by all order by all"
        ).fetchall()
    finally:
        con.close()
    out.mkdir(parents=True, exist_ok=True)
    ids_path, manifest_path = out / IDS_FILE, out / MANIFEST
    ids_path.write_text("".join(f"{i}\n" for i in ids))
    manifest: dict[str, Any] = {
        "created_at": isoformat_z(utcnow()),
        "lake": settings.lake,
        "tweets": len(ids),
        "ids_file": IDS_FILE,
        "format": "one tweet id per line, newest first (twarc's dehydrated format); hydrate with "
        "`tweetlake rehydrate` or `twarc2 hydrate`",
        "streams": [
            {
                "source": source,
                "endpoint": endpoint,
                "stream": stream,
                "tweets": count,
                "first_created_at": isoformat_z(first) if first else None,
                "last_created_at": isoformat_z(last) if last else None,
            }
            for source, endpoint, stream, count, first, last in streams
        ],
        "published": lake.read_json(PUBLISHED),  # gold's run and Delta versions (None: never published)
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return Export(ids_path, manifest_path, len(ids))


def read_ids(path: Path) -> tuple[str, ...]:
    """The ids of a dehydrated file (one a line; blank lines and ``#`` comments skipped), each once; a line
    that is not an id fails naming it (file:line)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the ids file {path}: {exc.strerror or exc}") from None
    ids: dict[str, None] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.isdigit():
            raise ConfigError(
                f"{path}:{number}: {line[:40]!r} is not a tweet id (one id a line, digits only)"
            )
        ids.setdefault(line)
    if not ids:
        raise ConfigError(f"{path}: no tweet ids in it")
    return tuple(ids)


@dataclass
class Rehydration:
    asked: int
    ingest: IngestSummary
    gone: list[str] = field(default_factory=list)
    gone_path: Path | None = None

    def describe(self) -> str:
        found = self.ingest.tweets
        line = f"rehydrated {found:,} of {self.asked:,} ids; {len(self.gone):,} gone"
        line += " (deleted, protected or suspended)"
        if found + len(self.gone) < self.asked:  # a budget stopped the lookup
            line += f"; {self.asked - found - len(self.gone):,} not looked up"
        if self.gone_path:
            line += f": listed in {self.gone_path}"
        return f"{self.ingest.describe()}\n{line}"


def rehydrate(settings: Settings, path: Path, **options: Any) -> Rehydration:
    """Look up the ids of ``path`` and land them in bronze; the ids gone are written beside it
    (``<name>.gone.txt``). ``options``: the API source's (tests: ``session``, ``sleep``)."""
    ids = read_ids(path)
    scoped = settings.with_overrides(queries=(), accounts=())
    source = make_source("api", scoped, ids=ids, ids_name=path.stem, **options)
    assert isinstance(source, ApiSource)
    lake = Lake.from_settings(settings)
    result = Rehydration(len(ids), ingest(source, lake))
    result.gone = list(source.gone)
    if result.gone:
        result.gone_path = path.with_name(f"{path.stem}.gone.txt")
        result.gone_path.write_text("".join(f"{i}\n" for i in result.gone))
    return result
