"""Configuration in one place: every setting tweetlake reads, where it comes from, and its default.

Settings come from the environment (or from Airflow connections, resolved in ``dags/``), never from files
in the repository. The bearer token is held in a ``Secret`` so it cannot end up in a log line or a repr.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_LAKE = "./lake"
DEFAULT_QUERIES = ("#dataengineering -is:retweet lang:en", "duckdb OR dbt")
DEFAULT_ACCOUNTS = ("duckdb",)
# bronze bytes one dbt build reads at most (ingestion/backlog.py): ~1.7M tweets of the sample source
DEFAULT_BUILD_BATCH = 2 * 2**30
# S3 requests (foundation/lake.py, foundation/delta.py): a store that does not answer within the timeout is
# retried, then the command fails saying so; it never waits forever (botocore's own read timeout is 60 s
# and s3fs retries every botocore round 5 times more: 25 minutes for one slow request).
DEFAULT_S3_TIMEOUT = 30.0
DEFAULT_S3_MAX_ATTEMPTS = 5
S3_CONNECT_TIMEOUT = 10.0  # at most: a TCP connect to a live store takes milliseconds
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


class Secret:
    """A string that never shows itself in str(), repr() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def is_remote(url: str) -> bool:
    """True for an fsspec URL with a protocol (``s3://...``), False for a local path."""
    return "://" in url and not url.startswith("file://")


def normalize_lake(url: str) -> str:
    """An absolute local path, or the URL with no trailing slash."""
    url = url.strip()
    if not url:
        raise ConfigError("TWEETLAKE_LAKE is empty: set it to a folder or to s3://bucket/prefix")
    if url.startswith("file://"):
        url = url[len("file://") :]
    if is_remote(url):
        if not url.startswith("s3://"):
            raise ConfigError(f"TWEETLAKE_LAKE={url!r}: only local folders and s3:// URLs are supported")
        if url.rstrip("/") == "s3:/":
            raise ConfigError("TWEETLAKE_LAKE=s3:// names no bucket: use s3://bucket/prefix")
        return url.rstrip("/")
    return str(Path(url).expanduser().resolve())


def split_list(raw: str) -> tuple[str, ...]:
    """A JSON list (``["a b", "c"]``) or a ``;``-separated list (``a b; c``), blanks dropped."""
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not a JSON list: {raw!r} ({exc})") from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"expected a JSON list of strings, got {raw!r}")
        return tuple(i.strip() for i in items if i.strip())
    return tuple(part.strip() for part in raw.split(";") if part.strip())


# The X API's pay-per-use price of one post read ("Posts: Read", per resource returned), as documented at
# https://docs.x.com/x-api/getting-started/pricing when read on 2026-12-03; TWEETLAKE_PRICE_PER_POST sets
# the price a user's account pays (prices change; the Developer Console has the current one).
DEFAULT_PRICE_PER_POST = 0.005
PRICE_READ_ON = "2026-12-03"


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know. Build it with :func:`load_settings`."""

    lake: str = field(default_factory=lambda: normalize_lake(DEFAULT_LAKE))
    s3_endpoint: str | None = None
    queries: tuple[str, ...] = DEFAULT_QUERIES
    accounts: tuple[str, ...] = DEFAULT_ACCOUNTS
    bearer_token: Secret = field(default_factory=lambda: Secret(""))
    duckdb_path: str | None = None
    request_timeout: float = 30.0
    max_rate_limit_wait: float = 900.0
    build_batch_bytes: int = DEFAULT_BUILD_BATCH
    price_per_post: float = DEFAULT_PRICE_PER_POST  # US$ per post read (`tweetlake plan`'s estimate)
    max_posts_per_run: int | None = None  # posts one API ingest may read; None: no limit
    monthly_post_budget: int | None = (
        None  # posts API ingests may read per calendar month (UTC); None: no limit
    )
    compliance_poll_seconds: float = 30.0  # between status checks of a batch compliance job
    compliance_timeout_seconds: float = 7200.0  # how long `tweetlake compliance` waits for a job to end
    conversations: bool = False  # API ingests follow the conversations they land (TWEETLAKE_CONVERSATIONS)
    query_max_length: int = 512  # characters a search query may have (TWEETLAKE_QUERY_MAX_LENGTH)

    @property
    def remote(self) -> bool:
        return is_remote(self.lake)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        if "lake" in given:
            given["lake"] = normalize_lake(str(given["lake"]))
        return replace(self, **given)

    def env_for_subprocess(self) -> dict[str, str]:
        """Environment variables that hand these settings to dbt (profiles.yml reads them)."""
        env = {"TWEETLAKE_LAKE": self.lake, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        if self.s3_endpoint:
            env["TWEETLAKE_S3_ENDPOINT"] = self.s3_endpoint
        if self.duckdb_path:
            env["TWEETLAKE_DUCKDB"] = self.duckdb_path
        return env


def _float_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class S3Client:
    """How long S3 requests may take and how often one is tried (``TWEETLAKE_S3_TIMEOUT``,
    ``TWEETLAKE_S3_MAX_ATTEMPTS``); read from the environment where a filesystem is made, dbt's processes
    included (they inherit it)."""

    timeout: float = DEFAULT_S3_TIMEOUT  # seconds without an answer (read) before a request is given up
    connect_timeout: float = S3_CONNECT_TIMEOUT
    max_attempts: int = DEFAULT_S3_MAX_ATTEMPTS  # tries of one request, the first included


def s3_client(env: Mapping[str, str] | None = None) -> S3Client:
    """The S3 client settings of the environment (see :func:`load_settings`)."""
    env = os.environ if env is None else env
    timeout = _float_env(env, "TWEETLAKE_S3_TIMEOUT", DEFAULT_S3_TIMEOUT)
    raw = env.get("TWEETLAKE_S3_MAX_ATTEMPTS", "").strip()
    try:
        attempts = int(raw) if raw else DEFAULT_S3_MAX_ATTEMPTS
    except ValueError:
        attempts = 0
    if attempts < 1:
        raise ConfigError(f"TWEETLAKE_S3_MAX_ATTEMPTS={raw!r}: expected a whole number of tries, 1 or more")
    return S3Client(timeout=timeout, connect_timeout=min(S3_CONNECT_TIMEOUT, timeout), max_attempts=attempts)


def parse_bytes(name: str, raw: str) -> int:
    """``2GB``, ``512MB``, ``1048576`` -> bytes (binary units); ``0`` turns the limit off."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?\s*", raw.upper())
    if not m:
        raise ConfigError(f"{name}={raw!r} is not a size: write e.g. 2GB, 512MB or 0 (no limit)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment.

    - ``TWEETLAKE_LAKE``: lake root, a folder (default ``./lake``) or ``s3://bucket/prefix``.
    - ``TWEETLAKE_S3_ENDPOINT``: endpoint of an S3-compatible store (MinIO, R2, ...); unset for AWS.
      Credentials come from the standard AWS chain (environment, profile, instance role).
    - ``TWEETLAKE_S3_TIMEOUT``: seconds an S3 request may go without an answer (default 30; the connect
      timeout is the smaller of it and 10) before it is retried; ``TWEETLAKE_S3_MAX_ATTEMPTS``: tries of one
      request (default 5), with backoff, on a 500/503/SlowDown, a timeout or a dropped connection. After
      them the command fails naming the request and the object (:func:`s3_client`).
    - ``TWEETLAKE_QUERIES``: search queries to track, ``;``-separated or a JSON list.
    - ``TWEETLAKE_ACCOUNTS``: usernames to track (timeline and mentions), ``;``- or ``,``-separated.
    - ``TWITTER_BEARER_TOKEN``: the API v2 bearer token (in Airflow: connection ``twitter_default``).
    - ``TWEETLAKE_DUCKDB``: the DuckDB file dbt works in (default: under the dbt project's ``target/``).
    - ``TWEETLAKE_REQUEST_TIMEOUT``, ``TWEETLAKE_MAX_RATE_LIMIT_WAIT``: seconds.
    - ``TWEETLAKE_BUILD_BATCH``: bronze bytes one dbt build reads at most (default 2GB); a larger backlog
      is built in batches (:mod:`dbt_runtime.backlog`). ``0``: one batch, whatever its size.
    - ``TWEETLAKE_PRICE_PER_POST``: US$ per post read, for ``tweetlake plan`` (default: the documented
      pay-per-use price, :data:`DEFAULT_PRICE_PER_POST`).
    - ``TWEETLAKE_MAX_POSTS_PER_RUN``: the posts one API ingest may read; checked before each request, the
      run stops cleanly there (default: no limit). ``TWEETLAKE_MONTHLY_POST_BUDGET``: the same for a calendar
      month (UTC), against the spend ledger in the lake (:mod:`ingestion.spend`).
    - ``TWEETLAKE_CONVERSATIONS``: ``1``/``true``: API ingests also follow the conversations of the tweets
      they land (:mod:`ingestion.conversations`); ``TWEETLAKE_QUERY_MAX_LENGTH``: the query length the
      access level allows (default 512, self-serve recent search; 4096 on Enterprise).
    """
    if env is None:
        env = os.environ
    batch = env.get("TWEETLAKE_BUILD_BATCH", "")
    queries = split_list(env.get("TWEETLAKE_QUERIES", "")) if "TWEETLAKE_QUERIES" in env else DEFAULT_QUERIES
    if "TWEETLAKE_ACCOUNTS" in env:
        accounts = tuple(a.lstrip("@") for a in split_list(env["TWEETLAKE_ACCOUNTS"].replace(",", ";")))
    else:
        accounts = DEFAULT_ACCOUNTS
    return Settings(
        lake=normalize_lake(env.get("TWEETLAKE_LAKE") or DEFAULT_LAKE),
        s3_endpoint=env.get("TWEETLAKE_S3_ENDPOINT") or None,
        queries=queries,
        accounts=accounts,
        bearer_token=Secret(env.get("TWITTER_BEARER_TOKEN", "").strip()),
        duckdb_path=env.get("TWEETLAKE_DUCKDB") or None,
        request_timeout=_float_env(env, "TWEETLAKE_REQUEST_TIMEOUT", 30.0),
        max_rate_limit_wait=_float_env(env, "TWEETLAKE_MAX_RATE_LIMIT_WAIT", 900.0),
        build_batch_bytes=parse_bytes("TWEETLAKE_BUILD_BATCH", batch) if batch else DEFAULT_BUILD_BATCH,
        price_per_post=_float_env(env, "TWEETLAKE_PRICE_PER_POST", DEFAULT_PRICE_PER_POST),
        max_posts_per_run=_posts_env(env, "TWEETLAKE_MAX_POSTS_PER_RUN"),
        monthly_post_budget=_posts_env(env, "TWEETLAKE_MONTHLY_POST_BUDGET"),
        compliance_poll_seconds=_float_env(env, "TWEETLAKE_COMPLIANCE_POLL_SECONDS", 30.0),
        compliance_timeout_seconds=_float_env(env, "TWEETLAKE_COMPLIANCE_TIMEOUT_SECONDS", 7200.0),
        conversations=_flag_env(env, "TWEETLAKE_CONVERSATIONS"),
        query_max_length=_length_env(env, "TWEETLAKE_QUERY_MAX_LENGTH", 512),
    )


def _flag_env(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={env[name]!r}: expected 1/true/yes or 0/false/no")


def _length_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r}: expected a whole number of characters (512 on self-serve access)")
    return int(raw)


def _posts_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 10:
        raise ConfigError(
            f"{name}={env[name]!r}: expected a whole number of posts, 10 or more (a page holds 10 at least)"
        )
    return int(raw)
