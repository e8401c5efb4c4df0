"""The fake API's batch compliance (``/2/compliance/jobs``), as documented in the X API v2 reference
(docs.x.com/x-api/compliance/batch-compliance: introduction and quick start, read 2026-12-03):

- ``POST /2/compliance/jobs`` with ``{"type": "tweets"|"users", "name"?, "resumable"?}`` answers
  ``{"data": {id, type, name, status: "created", upload_url, upload_expires_at, download_url,
  download_expires_at, created_at, resumable}}``; one job of a type may be in progress at a time.
- The ids are uploaded with a ``PUT`` of a plain-text file (one id a line) to ``upload_url``, a signed
  storage URL that takes no Authorization header (here: ``/_storage/upload/<id>`` on the same server).
- ``GET /2/compliance/jobs/:id`` answers the job, its ``status`` ``created``, ``in_progress``, ``complete``,
  ``failed`` or ``expired``.
- ``GET download_url`` (signed, no header) answers one JSON object a line for each id uploaded that has a
  compliance event: ``{"id", "action", "created_at", "redacted_at", "reason"}``; ids without an event are
  left out.

Tests script the events (:attr:`FakeCompliance.events`: id -> reason), how many polls a job stays
``in_progress`` and how a job ends (``outcome``: ``complete``, ``failed`` or ``expired``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

STORAGE = "/_storage/"
# a job's reason-free outcomes, as the API reports them (status only)
OUTCOMES = ("complete", "failed", "expired")


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeCompliance:
    events: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # by type ("tweets"/"users"): id -> reason
    polls: int = 1  # GETs of a job answered in_progress before it ends
    outcome: str = "complete"
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, list[str]] = field(default_factory=dict)  # job id -> ids uploaded
    upload_headers: list[dict[str, str]] = field(default_factory=list)  # what each upload was sent with
    next_id: int = 1460000000000000000
    base_url: str = ""

    def create(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            asked = json.loads(body or b"{}")
        except ValueError:
            return 400, invalid_request("body", "", "The request body is not valid JSON")
        kind = asked.get("type")
        if kind not in ("tweets", "users"):
            return 400, invalid_request("type", str(kind), "`type` must be one of [tweets, users]")
        busy = [
            j for j in self.jobs.values() if j["type"] == kind and j["status"] in ("created", "in_progress")
        ]
        if busy:
            return 400, {
                "title": "Invalid Request",
                "detail": f"You already have an active {kind} compliance job: only one job of a type may run "
                "at a time.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        self.next_id += 1
        job_id = str(self.next_id)
        now = datetime.now(UTC)
        job = {
            "id": job_id,
            "type": kind,
            "name": asked.get("name", ""),
            "status": "created",
            "resumable": bool(asked.get("resumable", False)),
            "created_at": _iso(now),
            "upload_url": f"{self.base_url}{STORAGE}upload/{job_id}?X-Goog-Signature=fake",
            "upload_expires_at": _iso(now + timedelta(minutes=15)),
            "download_url": f"{self.base_url}{STORAGE}download/{job_id}?X-Goog-Signature=fake",
            "download_expires_at": _iso(now + timedelta(days=7)),
            "_polls": 0,
        }
        self.jobs[job_id] = job
        return 200, {"data": _public(job)}

    def get(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 400, invalid_request("id", job_id, f"Could not find a compliance job with id: [{job_id}]")
        if job["status"] == "in_progress":
            job["_polls"] += 1
            if job["_polls"] > self.polls:
                job["status"] = self.outcome
        return 200, {"data": _public(job)}

    def storage(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The signed storage URLs: an upload (PUT) or a download (GET) of one job's file."""
        action, _, job_id = path[len(STORAGE) :].partition("/")
        job = self.jobs.get(job_id)
        if job is None:
            return 404, b"NoSuchKey"
        if action == "upload" and method == "PUT":
            self.upload_headers.append(dict(headers))
            if job["status"] != "created":
                return 403, b"upload URL already used or expired"
            self.uploads[job_id] = body.decode().split()
            job["status"] = "in_progress"
            return 200, b""
        if action == "download" and method == "GET":
            if job["status"] != "complete":
                return 404, b"NoSuchKey: the results are not ready"
            events = self.events.get(job["type"], {})
            lines = [
                json.dumps(
                    {
                        "id": i,
                        "action": "delete",
                        "created_at": "2026-11-20T10:00:00.000Z",
                        "redacted_at": job["created_at"],
                        "reason": events[i],
                    }
                )
                for i in self.uploads.get(job_id, [])
                if i in events
            ]
            return 200, "".join(f"{line}\n" for line in lines).encode()
        return 405, b"MethodNotAllowed"


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def invalid_request(name: str, value: str, message: str) -> dict[str, Any]:
    """The API's 400 body for a parameter it refuses (problem type invalid-request)."""
    return {
        "errors": [{"parameters": {name: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
