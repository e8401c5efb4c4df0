"""The vocabulary of the sample: words, hashtags, emoji, places, text halves, and the users.

Text is stored as the API returns it: HTML-escaped (``&amp;``, ``&lt;``, ``&gt;``), with emoji.
"""

from __future__ import annotations

import functools
import random
import time
from typing import Any

from ingestion.sources.sample.plan import USER_ID_BASE, mix

WORDS = (
    "data",
    "lake",
    "pipeline",
    "query",
    "fast",
    "today",
    "shipped",
    "release",
    "parquet",
    "model",
    "metrics",
    "latency",
    "team",
    "great",
    "new",
    "build",
    "streaming",
    "warehouse",
    "open",
    "source",
    "community",
    "love",
    "thread",
    "docs",
    "learning",
    "python",
    "sql",
    "cloud",
    "cost",
    "storage",
    "schema",
    "test",
    "quality",
    "dashboard",
    "incident",
    "weekend",
    "coffee",
    "benchmark",
)
NW = len(WORDS)
HASHTAGS = ("dataengineering", "duckdb", "dbt", "python", "opensource", "analytics", "sql", "ai", "bigdata")
EMOJI = ("🚀", "🔥", "✨", "📊", "🦆", "😅", "👍", "💡", "🎉", "😡", "😢")
MOODS = ("Loving", "Really enjoying", "Frustrated with", "Not sure about", "Hate", "Excited for", "Trying")
# Already HTML-escaped, as the API returns text.
TAILS = ("&amp; more", "&lt;3", "-&gt; shipped", "w/ the team", "", "", "Q&amp;A soon", "1 &lt; 2")
LANGS = ("en", "en", "en", "en", "es", "de", "fr", "ja", "und")
VERIFIED_TYPES = ("blue", "blue", "government")
PLACES = ("Berlin", "NYC", "São Paulo", "Tokyo", "Lagos", "Remote", "Zürich", "Montréal")
PAIRS = tuple(f"{a} {b}" for a in WORDS for b in WORDS)  # the text of a quoted tweet
NP = len(PAIRS)
PHRASES = 4096
# Ready-made JSON pieces: a hashtag's text, its length and its entity tail; the lang member.
TAG_PIECES = tuple((f" #{t}", len(t) + 1, f'"tag":"{t}"}}') for t in HASHTAGS)
LANG_PIECES = tuple(f',"lang":"{lang}"' for lang in LANGS)

USERS_SINCE = 1_230_768_000  # 2009-01-01: accounts were created since then
USERS_SPAN = 16 * 365 * 86400
MASK64 = (1 << 64) - 1
# Users whose JSON is kept ready (bytes, ~0.6 kB each), per process: bounds memory. As many as the default
# user count holds at most (200k): with fewer, runs over that many users re-render most of them.
USER_CACHE = 200_000


@functools.cache
def phrases(count: int = PHRASES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Text halves, fixed for every seed: a tweet's text is an opener and a closer (16M combinations)
    drawn with two random numbers instead of a dozen. Made on first use (only renderers need them)."""
    rng = random.Random(20261120)
    openers = tuple(
        " ".join([rng.choice(MOODS), *(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))])
        for _ in range(count)
    )
    closers = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(0, 7))]
        closers.append(" ".join(p for p in (*words, rng.choice(TAILS), rng.choice(EMOJI)) if p))
    return openers, tuple(closers)


def hash64(x: int) -> int:
    """splitmix64's finalizer: a well-mixed 64-bit integer from any integer, fast."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class _Bounded:
    """A cache by user id: a list (cheaper to index than a dict to look up) holding at most USER_CACHE
    entries; when full it is emptied and filled again."""

    def __init__(self, size: int) -> None:
        self.items: list[Any] = [None] * size
        self.filled = 0

    def keep(self, index: int, value: object) -> None:
        if index >= len(self.items):
            return
        if self.filled >= USER_CACHE:
            self.items[:] = [None] * len(self.items)
            self.filled = 0
        self.items[index] = value
        self.filled += 1


class Users:
    """The users of a sample: names and ``includes.users`` objects, pure functions of the seed and the
    user id (``USER_ID_BASE + uid``); the tracked accounts are the first uids."""

    def __init__(self, seed: int, count: int, accounts: tuple[str, ...]) -> None:
        self.accounts = accounts
        self.salt = mix(seed, "users")
        self._names = _Bounded(count)
        self._json = _Bounded(count)
        # the renderer reads these directly (``names[uid] or mention(uid)``): a list index, no call
        self.names: list[tuple[str, int, str] | None] = self._names.items
        self.frags: list[bytes | None] = self._json.items

    def mention(self, uid: int) -> tuple[str, int, str]:
        """``(username, len("@username"), the tail of a mention entity)`` of user ``uid``, cached."""
        found = self.names[uid] if uid < len(self.names) else None
        if found is None:
            if uid < len(self.accounts):
                name = self.accounts[uid]
            else:
                h = hash64(self.salt + uid)
                name = f"{WORDS[h % NW][:5]}_{WORDS[(h >> 8) % NW][:3]}{uid}"
            found = (name, len(name) + 1, f'"username":"{name}","id":"{USER_ID_BASE + uid}"}}')
            self._names.keep(uid, found)
        return found

    def json(self, uid: int) -> bytes:
        """The user object of ``includes.users``, as JSON bytes, cached."""
        frag = self.frags[uid] if uid < len(self.frags) else None
        if frag is None:
            frag = self._render(uid)
            self._json.keep(uid, frag)
        return frag

    def _render(self, uid: int) -> bytes:
        username = self.mention(uid)[0]
        h = hash64(self.salt + uid + 0x5851F42D4C957F2D)
        g = hash64(h)
        created = time.gmtime(USERS_SINCE + h % USERS_SPAN)
        account = uid < len(self.accounts)
        verified = "true" if account or (h >> 32) % 100 < 5 else "false"
        followers = int(50 / (((g % 1_000_000) + 1) / 1_000_001) ** (1 / 1.2)) + (250_000 if account else 0)
        name = username.capitalize() if account else username.replace("_", " ").title()
        parts = [
            f'{{"id":"{USER_ID_BASE + uid}","name":"{name}","username":"{username}","created_at":"'
            f'{time.strftime("%Y-%m-%dT%H:%M:%S", created)}.000Z","verified":{verified},"public_metrics":'
            f'{{"followers_count":{followers},"following_count":{(g >> 20) % 2000},"tweet_count":'
            f'{(g >> 31) % 50_000},"listed_count":{(g >> 47) % 100}}}'
        ]
        if (h >> 40) % 10 < 8:
            desc = f"{WORDS[(h >> 44) % NW]} &amp; {WORDS[(h >> 50) % NW]} {EMOJI[(g >> 54) % 11]}"
            parts.append(f',"description":"{desc}"')
        if (g >> 58) % 10 < 6:
            parts.append(f',"location":"{PLACES[(h >> 56) % 8]}"')
        parts.append(self._profile(uid, account, verified == "true", h ^ g))
        parts.append("}")
        return "".join(parts).encode()

    @staticmethod
    def _profile(uid: int, account: bool, verified: bool, k: int) -> str:
        """The profile fields of the full user model: verified_type, protected, profile image, url,
        pinned tweet (some users), drawn from the bits of ``k``."""
        vtype = ("business" if account else VERIFIED_TYPES[(k >> 3) % 3]) if verified else "none"
        protected = "true" if not account and k % 100 < 2 else "false"
        parts = [
            f',"verified_type":"{vtype}","protected":{protected},"profile_image_url":'
            f'"https://pbs.twimg.com/profile_images/{k >> 12}/{k % 99991:05d}_normal.jpg"'
        ]
        if (k >> 20) % 10 < 4:
            parts.append(f',"url":"https://t.co/{k % 0xFFFFFFFFFF:010x}"')
        if (k >> 30) % 10 < 3:  # an id from before the sample's days: a tweet of the user's past
            parts.append(f',"pinned_tweet_id":"{1_500_000_000_000_000_000 + (k >> 4) % 10**17 + uid}"')
        return "".join(parts)
