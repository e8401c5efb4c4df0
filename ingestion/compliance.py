"""Batch compliance jobs: which of the lake's posts and users were deleted, protected, suspended or
deactivated since they were collected (X API v2, ``/2/compliance/jobs``; tweepy's ``create_compliance_job``
and ``get_compliance_job``).

A job is created for a type (``tweets`` or ``users``), the ids are uploaded as a plain-text file (one a line)
with a PUT to its signed ``upload_url``, the job is polled until ``complete`` (or ``failed``, ``expired``),
and its results are downloaded from the signed ``download_url``: one JSON object a line for each id with an
event (``id``, ``action``, ``reason``, ``created_at``, ``redacted_at``). The results land in the lake exactly
as downloaded (``_state/compliance/results/type=<type>/<job id>.jsonl``; silver.compliance_events reads
them) beside a record of the job (``_state/compliance/jobs/type=<type>/<job id>.json``).

A job in flight is remembered by its id only (``.../pending.json``): a run that stops while the API works
(a crash, a poll timeout) carries on with the same job next time, since the API runs one job of a type at a
time. The signed URLs are never stored or logged: they grant access without a token, so they are treated as
secrets and fetched again with the job when needed.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests

from foundation.lake import Lake
from foundation.layout import COMPLIANCE
from ingestion.http import ApiError, TransientError
from ingestion.sources.base import Pull

if TYPE_CHECKING:  # every build reads the recorded events (pipeline.compliance): tweepy stays out of it
    from ingestion.sources.api import ApiSource

log = logging.getLogger(__name__)

JOB_TYPES = ("tweets", "users")
ENDPOINT = "compliance_jobs"
RUNNING = ("created", "in_progress")
# a reason that scrubs a post's location; every other event removes the post or the user and their posts
SCRUB_GEO = "scrub_geo"


class ComplianceJobFailed(ApiError):
    """The API ended a job without results (``failed``, ``expired``) or it did not end in time."""


@dataclass
class JobResult:
    kind: str
    job_id: str
    ids: int  # ids uploaded
    events: int  # result lines
    results: str  # lake-relative path of the results as downloaded
    resumed: bool = False
    seconds: float = 0.0


@dataclass
class Events:
    """What every recorded job's results ask of the lake (cumulative: a later job never undoes one)."""

    tweets: set[str] = field(default_factory=set)  # posts to remove
    users: set[str] = field(default_factory=set)  # users to remove, with their posts
    scrub_geo: set[str] = field(default_factory=set)  # posts whose location is removed

    def __bool__(self) -> bool:
        return bool(self.tweets or self.users or self.scrub_geo)

    def describe(self) -> str:
        return (
            f"{len(self.tweets):,} posts and {len(self.users):,} users to remove, "
            f"{len(self.scrub_geo):,} posts' locations to scrub"
        )


RESULTS_GLOB = f"{COMPLIANCE}/results/type=*/*.jsonl"


def pending_path(kind: str) -> str:
    return f"{COMPLIANCE}/jobs/type={kind}/pending.json"


def results_path(kind: str, job_id: str) -> str:
    return f"{COMPLIANCE}/results/type={kind}/{job_id}.jsonl"


@dataclass
class ComplianceRunner:
    """Runs one job of a type through the API source's client, rate-limit waits and retries.

    ``poll_seconds`` between status checks; ``timeout_seconds`` for the whole wait (the API takes minutes
    to hours); both from ``TWEETLAKE_COMPLIANCE_POLL_SECONDS`` / ``TWEETLAKE_COMPLIANCE_TIMEOUT_SECONDS``.
    """

    source: ApiSource
    lake: Lake
    poll_seconds: float = 30.0
    timeout_seconds: float = 7200.0
    say: Callable[[str], None] = log.info

    def __post_init__(self) -> None:
        self.client = self.source.client()
        self.storage = self.source.session or requests.Session()

    def run(self, kind: str, ids: Sequence[str]) -> JobResult:
        started = time.perf_counter()
        pull = Pull(ENDPOINT, kind, "", self.source.ingest_date, ())
        job, resumed = self._job(pull, kind, ids)
        if job["status"] == "created":
            self._upload(pull, job, ids)
        job = self._wait(pull, job)
        data = self._download(pull, job)
        events = _check_results(data, f"compliance job {job['id']} ({kind})")
        rel = results_path(kind, job["id"])
        self.lake.write_bytes(rel, data)
        record = {**_public(job), "ids": len(ids), "events": events, "downloaded_at": _now()}
        self.lake.write_json(f"{COMPLIANCE}/jobs/type={kind}/{job['id']}.json", record)
        self.lake.remove([pending_path(kind)])
        self.say(f"compliance job {job['id']} ({kind}): {len(ids):,} ids checked, {events:,} events")
        return JobResult(kind, job["id"], len(ids), events, rel, resumed, time.perf_counter() - started)

    # -- the steps --------------------------------------------------------------------------------------
    def _job(self, pull: Pull, kind: str, ids: Sequence[str]) -> tuple[dict[str, Any], bool]:
        """The job in flight of this type (resumed), or a new one."""
        pending = self.lake.read_json(pending_path(kind))
        if pending:
            job = self._get(pull, pending["id"])
            if job["status"] in (*RUNNING, "complete"):  # created: its ids are uploaded now
                self.say(f"carrying on with compliance job {job['id']} ({kind}, {job['status']})")
                return job, True
            self.say(f"compliance job {job['id']} ({kind}) ended {job['status']} unread: starting a new one")
        name = f"tweetlake-{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        call = functools.partial(self.client.create_compliance_job, kind, name=name)
        _, doc = self.source._request(pull, ENDPOINT, call)
        job = _job_of(doc, "create")
        self.lake.write_json(pending_path(kind), {"id": job["id"], "type": kind, "ids": len(ids)})
        return job, False

    def _upload(self, pull: Pull, job: dict[str, Any], ids: Sequence[str]) -> None:
        body = "".join(f"{i}\n" for i in ids).encode()
        self._storage(pull, "PUT", job["upload_url"], f"upload of job {job['id']}'s ids", body)

    def _wait(self, pull: Pull, job: dict[str, Any]) -> dict[str, Any]:
        deadline = self.source.clock() + self.timeout_seconds
        while job["status"] in RUNNING:
            if self.source.clock() >= deadline:
                raise ComplianceJobFailed(
                    f"compliance job {job['id']} ({job['type']}) is still {job['status']} after "
                    f"{self.timeout_seconds:g} s (TWEETLAKE_COMPLIANCE_TIMEOUT_SECONDS): rerun `tweetlake "
                    "compliance` later; it carries on with the same job, nothing was changed"
                )
            self.source.sleep(self.poll_seconds)
            job = self._get(pull, job["id"])
        if job["status"] != "complete":
            self.lake.remove([pending_path(job["type"])])
            why = (
                "expired (its upload URL lasts 15 minutes and its results a week from its creation)"
                if job["status"] == "expired"
                else f"ended {job['status']} (the API gives no reason)"
            )
            raise ComplianceJobFailed(
                f"compliance job {job['id']} ({job['type']}) {why}: rerun `tweetlake compliance` to create a "
                "new job; nothing in the lake was changed"
            )
        return job

    def _download(self, pull: Pull, job: dict[str, Any]) -> bytes:
        return self._storage(pull, "GET", job["download_url"], f"results of job {job['id']}")

    # -- the calls --------------------------------------------------------------------------------------
    def _get(self, pull: Pull, job_id: str) -> dict[str, Any]:
        call = functools.partial(self.client.get_compliance_job, job_id)
        _, doc = self.source._request(pull, ENDPOINT, call)
        return _job_of(doc, f"status of job {job_id}")

    def _storage(self, pull: Pull, method: str, url: str, what: str, body: bytes | None = None) -> bytes:
        """A request to a signed storage URL: no token sent (the URL carries its own signature), retried
        like an API call; its errors name the host only (the URL's query is its credential)."""
        host = urlparse(url).netloc

        def attempt() -> bytes:
            try:
                headers = {"Content-Type": "text/plain"} if body is not None else {}
                r = self.storage.request(method, url, data=body, headers=headers, timeout=self.source.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"{type(exc).__name__} during the {what} ({host})") from None
            if r.status_code >= 500:
                raise TransientError(f"{r.status_code} {r.reason} from {host} during the {what}")
            if r.status_code >= 400:
                raise ApiError(
                    f"{r.status_code} {r.reason} from {host} during the {what}: {r.text[:200]!r}; rerun "
                    "`tweetlake compliance` (a job whose URLs expired is replaced by a new one)"
                )
            return r.content

        result: bytes = self.source.backoff.retrying(self.source.sleep, pull.waiting)(attempt)
        return result


def _job_of(doc: dict[str, Any], what: str) -> dict[str, Any]:
    job = doc.get("data")
    if not isinstance(job, dict) or not {"id", "status", "type"} <= job.keys():
        raise ApiError(f"the API's answer to the compliance job {what} holds no job: {json.dumps(doc)[:300]}")
    return job


def _public(job: dict[str, Any]) -> dict[str, Any]:
    """A job without its signed URLs (credentials: never stored)."""
    return {k: v for k, v in job.items() if not k.endswith("_url")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_results(data: bytes, what: str) -> int:
    """The number of events in a results file; a line that is not one fails, naming it (nothing lands)."""
    count = 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise ApiError(f"{what}: results line {number} is not JSON ({exc}): {line[:120]!r}") from None
        if not isinstance(event, dict) or not str(event.get("id", "")).isdigit() or "action" not in event:
            raise ApiError(f"{what}: results line {number} is no event (id, action): {line[:120]!r}")
        count += 1
    return count


def recorded_events(lake: Lake) -> Events:
    """Every event of every job recorded in the lake."""
    events = Events()
    for rel in lake.glob(RESULTS_GLOB):
        kind = rel.split("type=", 1)[1].split("/", 1)[0]
        for line in lake.read_bytes(rel).splitlines():
            if line.strip():
                _add(events, kind, json.loads(line))
    return events


def _add(events: Events, kind: str, event: dict[str, Any]) -> None:
    ident = str(event["id"])
    if SCRUB_GEO in (event.get("action"), event.get("reason")) and kind == "tweets":
        events.scrub_geo.add(ident)
    elif kind == "users":
        events.users.add(ident)
    else:
        events.tweets.add(ident)
