"""A deterministic, seeded generator of realistic API v2 search pages, for demos, tests and benchmarks.

The same arguments always give the same pages, byte for byte: every tweet is derived from
``(seed, stream, day, index)``. Memory stays bounded at any size: pages are generated one at a time.

What it produces, like the real API: snowflake-like string ids increasing with time; HTML-escaped text
(``&amp;``) with emoji; hashtags, mentions and URLs with ``entities`` offsets; replies, quotes and retweets in
``referenced_tweets`` with the referenced tweets in ``includes.tweets``; authors in ``includes.users``; the
same tweet seen again on a later day with higher metrics; optional fields sometimes missing; occasional
partial ``errors`` (a retweet of a deleted tweet); and empty pages (``meta.result_count: 0``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ingestion.config import DEFAULT_QUERIES
from ingestion.pages import Page, isoformat_z, snowflake_for, stream_key
from ingestion.sources.base import Pull
from ingestion.watermarks import WatermarkStore

ENDPOINT = "search_recent"
WORDS = (
    "data lake pipeline query fast today shipped release parquet model metrics latency team great "
    "new build streaming warehouse open source community love thread docs learning python sql cloud "
    "cost storage schema test quality dashboard incident weekend coffee benchmark"
).split()
HASHTAGS = ("dataengineering", "duckdb", "dbt", "python", "opensource", "analytics", "sql", "ai", "bigdata")
EMOJI = ("🚀", "🔥", "✨", "📊", "🦆", "😅", "👍", "💡", "🎉", "😡", "😢")
MOODS = ("Loving", "Really enjoying", "Frustrated with", "Not sure about", "Hate", "Excited for", "Trying")
LANGS = ("en", "en", "en", "en", "es", "de", "fr", "ja", "und")


def _escape(text: str) -> str:
    """The API returns text HTML-escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class SampleSource:
    """``tweets`` tweets spread over ``days`` days ending on ``end_date``, across ``queries``."""

    tweets: int = 3000
    days: int = 3
    end_date: date = field(default_factory=lambda: datetime.now(UTC).date())
    seed: int = 42
    queries: tuple[str, ...] = DEFAULT_QUERIES
    page_size: int = 100
    users: int | None = None
    name: str = "sample"

    def __post_init__(self) -> None:
        if self.tweets < 0 or self.days < 1 or not self.queries:
            raise ValueError("sample source needs tweets >= 0, days >= 1 and at least one query")
        if not 10 <= self.page_size <= 100:
            raise ValueError("page_size must be between 10 and 100, as the API's max_results")
        self.user_count = self.users or max(20, min(200_000, self.tweets // 25))

    # -- the plan -----------------------------------------------------------------------------------------
    def day_dates(self) -> list[date]:
        return [self.end_date - timedelta(days=self.days - 1 - i) for i in range(self.days)]

    def per_stream_day(self, day_index: int, query_index: int) -> int:
        cells = self.days * len(self.queries)
        cell = day_index * len(self.queries) + query_index
        base, extra = divmod(self.tweets, cells)
        return base + (1 if cell < extra else 0)

    def pulls(self, watermarks: WatermarkStore | None = None) -> Iterator[Pull]:
        for di, day in enumerate(self.day_dates()):
            for qi, query in enumerate(self.queries):
                yield Pull(
                    endpoint=ENDPOINT,
                    stream=query,
                    run_key=f"sample-s{self.seed}-{day.isoformat()}",
                    ingest_date=day,
                    pages=self._pages(di, day, qi, query),
                )

    # -- users --------------------------------------------------------------------------------------------
    def user(self, uid: int) -> dict:
        rng = random.Random(f"{self.seed}:user:{uid}")
        username = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}{uid}"
        created = datetime(2009, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(16 * 365 * 86400))
        user = {
            "id": str(10_000_000 + uid),
            "name": f"{username.replace('_', ' ').title()}",
            "username": username,
            "created_at": isoformat_z(created),
            "verified": rng.random() < 0.05,
            "public_metrics": {
                "followers_count": int(rng.paretovariate(1.2) * 50),
                "following_count": rng.randrange(2000),
                "tweet_count": rng.randrange(50_000),
                "listed_count": rng.randrange(100),
            },
        }
        if rng.random() < 0.8:
            user["description"] = _escape(f"{rng.choice(WORDS)} & {rng.choice(WORDS)} {rng.choice(EMOJI)}")
        if rng.random() < 0.6:
            user["location"] = rng.choice(("Berlin", "NYC", "São Paulo", "Tokyo", "Lagos", "Remote"))
        return user

    # -- tweets -------------------------------------------------------------------------------------------
    def _tweet(self, qi: int, day: date, index: int, count: int, observed_on: date) -> tuple[dict, list, list]:
        """One tweet as observed on ``observed_on``: (tweet, referenced tweets for includes, errors)."""
        rng = random.Random(f"{self.seed}:{qi}:{day.isoformat()}:{index}")
        seconds = int((index + rng.random()) * 86400 / max(count, 1))
        created = datetime.combine(day, time(), UTC) + timedelta(seconds=min(seconds, 86399))
        tid = snowflake_for(created, (qi << 17) | (index & 0x1FFFF))
        author = rng.randrange(self.user_count)
        kind = rng.choices(("original", "reply", "quote", "retweet"), (60, 20, 8, 12))[0]
        mentioned = [rng.randrange(self.user_count) for _ in range(rng.choice((0, 0, 1, 2)))]
        tags = rng.sample(HASHTAGS, rng.choice((0, 1, 1, 2, 3)))
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12)))
        body = f"{rng.choice(MOODS)} {words} & more {rng.choice(EMOJI)}"
        refs: list[dict] = []
        includes: list[dict] = []
        errors: list[dict] = []
        reply_to = None
        if kind == "retweet":
            orig_author = rng.randrange(self.user_count)
            mentioned = [orig_author]
            orig_id = tid - rng.randrange(1, 1 << 30) * 1000
            refs.append({"type": "retweeted", "id": str(orig_id)})
            if rng.random() < 0.1:  # the retweeted tweet was deleted
                errors.append(_not_found(orig_id))
            else:
                orig_text = f"{body} {' '.join('#' + t for t in tags)}".strip()
                includes.append({"id": str(orig_id), "text": _escape(orig_text),
                                 "author_id": str(10_000_000 + orig_author),
                                 "created_at": isoformat_z(created - timedelta(hours=rng.randrange(1, 48))),
                                 "public_metrics": {"retweet_count": rng.randrange(1, 500), "reply_count": 0,
                                                    "like_count": rng.randrange(1, 2000), "quote_count": 0}})
        elif kind == "reply":
            reply_to = rng.randrange(self.user_count)
            mentioned = [reply_to, *mentioned[:1]]
            parent = tid - rng.randrange(1, 1 << 28) * 1000
            refs.append({"type": "replied_to", "id": str(parent)})
        elif kind == "quote":
            quoted = tid - rng.randrange(1, 1 << 28) * 1000
            refs.append({"type": "quoted", "id": str(quoted)})
            includes.append({"id": str(quoted), "text": _escape(f"{rng.choice(WORDS)} {rng.choice(WORDS)}"),
                             "author_id": str(10_000_000 + rng.randrange(self.user_count)),
                             "created_at": isoformat_z(created - timedelta(hours=rng.randrange(1, 24)))})

        # Assemble the text and the entity offsets (code points, over the text as the API returns it).
        entities: dict[str, list] = {"mentions": [], "hashtags": [], "urls": []}
        parts: list[str] = []
        pos = 0

        def add(piece: str) -> int:
            nonlocal pos
            if parts:
                parts.append(" ")
                pos += 1
            start = pos
            parts.append(piece)
            pos += len(piece)
            return start

        if kind == "retweet":
            uname = self.username(mentioned[0])
            start = add("RT")
            start = add(f"@{uname}:")
            entities["mentions"].append({"start": start, "end": start + len(uname) + 1, "username": uname,
                                         "id": str(10_000_000 + mentioned[0])})
        else:
            for uid in mentioned:
                uname = self.username(uid)
                start = add(f"@{uname}")
                entities["mentions"].append({"start": start, "end": pos, "username": uname,
                                             "id": str(10_000_000 + uid)})
        add(_escape(body))
        for tag in tags:
            start = add(f"#{tag}")
            entities["hashtags"].append({"start": start, "end": pos, "tag": tag})
        if kind == "quote" or rng.random() < 0.25:
            short = f"https://t.co/{tid % 10_000_000_000:010d}"
            start = add(short)
            target = (f"https://twitter.com/i/web/status/{refs[0]['id']}" if kind == "quote"
                      else f"https://example.com/{rng.choice(WORDS)}/{index}")
            entities["urls"].append({"start": start, "end": pos, "url": short, "expanded_url": target,
                                     "display_url": target.split("://", 1)[1][:25]})
        text = "".join(parts)

        age_days = (observed_on - day).days
        growth = 1.0 + age_days * (0.5 + rng.random())
        likes = int(rng.paretovariate(1.5) * 3 * growth) - 3
        tweet = {
            "id": str(tid),
            "text": text,
            "created_at": isoformat_z(created),
            "author_id": str(10_000_000 + author),
            "conversation_id": refs[0]["id"] if kind == "reply" else str(tid),
            "edit_history_tweet_ids": [str(tid)],
            "public_metrics": {
                "retweet_count": max(0, int(likes * rng.random() * 0.3)),
                "reply_count": max(0, int(likes * rng.random() * 0.1)),
                "like_count": max(0, likes),
                "quote_count": max(0, int(likes * rng.random() * 0.05)),
                "bookmark_count": max(0, int(likes * rng.random() * 0.05)),
                "impression_count": max(0, int((likes + 5) * (20 + rng.random() * 80))),
            },
        }
        if rng.random() < 0.95:
            tweet["lang"] = rng.choice(LANGS)
        if rng.random() < 0.9:
            tweet["possibly_sensitive"] = rng.random() < 0.02
        if refs:
            tweet["referenced_tweets"] = refs
        if reply_to is not None:
            tweet["in_reply_to_user_id"] = str(10_000_000 + reply_to)
        ents = {k: v for k, v in entities.items() if v}
        if ents:
            tweet["entities"] = ents
        return tweet, includes, errors

    def username(self, uid: int) -> str:
        rng = random.Random(f"{self.seed}:user:{uid}")
        return f"{rng.choice(WORDS)}_{rng.choice(WORDS)}{uid}"

    def _pages(self, di: int, day: date, qi: int, query: str) -> Iterator[Page]:
        count = self.per_stream_day(di, qi)
        fetched = datetime.combine(day, time(23, 0), UTC)
        request = {"query": query, "max_results": self.page_size, "start_time": isoformat_z(
            datetime.combine(day, time(), UTC)), "end_time": isoformat_z(fetched)}
        items: list[tuple[date, int, int]] = [(day, i, count) for i in range(count)]
        # The same tweets seen again: ~3% of the previous day's tweets, with grown metrics.
        if di > 0:
            prev = day - timedelta(days=1)
            prev_count = self.per_stream_day(di - 1, qi)
            items += [(prev, i, prev_count) for i in range(0, prev_count, 33)]
        rng = random.Random(f"{self.seed}:empty:{qi}:{day.isoformat()}")
        if not items or rng.random() < 0.02:
            body = {"meta": {"result_count": 0}}
            yield Page(json.dumps(body).encode(), ENDPOINT, query, dict(request), fetched_at=fetched,
                       tweet_count=0, error_count=0, newest_id="")
            return
        items.reverse()  # the API returns newest first
        token_rng = random.Random(f"{self.seed}:tokens:{qi}:{day.isoformat()}")
        for start in range(0, len(items), self.page_size):
            chunk = items[start : start + self.page_size]
            data, inc_tweets, errors, authors = [], [], [], set()
            for tday, index, tcount in chunk:
                tweet, refs, errs = self._tweet(qi, tday, index, tcount, day)
                data.append(tweet)
                inc_tweets += refs
                errors += errs
                authors.add(int(tweet["author_id"]) - 10_000_000)
                authors.update(int(r["author_id"]) - 10_000_000 for r in refs)
            ids = [int(t["id"]) for t in data]
            meta = {"newest_id": str(max(ids)), "oldest_id": str(min(ids)), "result_count": len(data)}
            more = start + self.page_size < len(items)
            if more:
                meta["next_token"] = f"b26v89c19zqg8o3f{token_rng.getrandbits(64):016x}"
            body = {"data": data, "includes": {"users": [self.user(u) for u in sorted(authors)]}, "meta": meta}
            if inc_tweets:
                body["includes"]["tweets"] = inc_tweets
            if errors:
                body["errors"] = errors
            req = dict(request)
            if start:
                req["next_token"] = prev_token
            prev_token = meta.get("next_token")
            yield Page(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), ENDPOINT, query,
                       req, fetched_at=fetched, tweet_count=len(data), error_count=len(errors),
                       newest_id=meta["newest_id"])


def _not_found(tweet_id: int) -> dict:
    return {
        "value": str(tweet_id),
        "detail": f"Could not find tweet with referenced_tweets.id: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "referenced_tweets.id",
        "resource_id": str(tweet_id),
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


__all__ = ["SampleSource", "stream_key"]
