"""One writer at a time for a whole lake, across machines: a lease held in the lake itself.

The work dir's lock (:func:`foundation.workdir.lake_lock`) keeps two runs on one machine and one work dir
apart; two Airflow workers, or a laptop and a cron box, have different work dirs. So every step that
rewrites the lake's tables (build, validate, publish, rollback, maintain; a refresh across its steps) also
holds ``<lake>/_state/lease.json`` (ingest only adds bronze objects, whole, under its stream's keys):

- **taken** by an exclusive create: on S3 a PUT with ``If-None-Match: *`` (S3 and moto refuse it with 412
  when the object exists), in a local folder a hard link of a complete temporary file (fails if the name
  exists), so the lease is never seen half-written;
- **kept** by a heartbeat thread that rewrites its expiry every ``ttl / 4`` seconds (on S3 with ``If-Match``
  on the lease's ETag, so a lease taken over meanwhile is never overwritten);
- **taken over** when it expired (its holder stopped heartbeating: killed, or its machine gone) or when its
  holder is a dead process on this host: on S3 by a PUT with ``If-Match`` on the stale lease's ETag, locally
  under an ``flock`` of ``lease.json.lock``, so of two writers racing for a stale lease exactly one wins;
- **released** by deleting it, after checking it is still this holder's.

A second writer waits up to ``TWEETLAKE_LEASE_WAIT`` seconds (default 300), saying once whom it waits for,
then raises :class:`LeaseBusy` naming the holder (host, pid, step, since). Held leases are re-entrant in one
process: a refresh holds the lease across its four steps, each of which takes it too.
No library does this for a bare S3 prefix and a local folder alike (Delta Lake's commits, issue 16, guard
table writes, not a whole lake's steps), hence by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from foundation.lake import Lake
from foundation.layout import LEASE
from foundation.times import isoformat_z, utcnow
from foundation.workdir import LakeBusy

log = logging.getLogger(__name__)

DEFAULT_TTL = 120.0  # seconds without a heartbeat before a lease counts as its holder's death
DEFAULT_WAIT = 300.0  # seconds a second writer waits before giving up


class LeaseBusy(LakeBusy):
    """Another writer holds the lake's lease and kept it past the wait."""


class LeaseLost(LakeBusy):
    """This writer's lease expired and was taken by another writer while it worked."""


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number of seconds") from None


@dataclass(frozen=True)
class Seen:
    """A lease as read: its content and the version a conditional write must match (ETag or inode+mtime)."""

    body: dict[str, Any]
    version: str

    def describe(self) -> str:
        b = self.body
        step, host, pid, since = (b.get(k, "?") for k in ("step", "host", "pid", "since"))
        return f"{step} on {host} pid {pid} since {since}"

    def expired(self, now: float) -> bool:
        return float(self.body.get("expires_epoch", 0)) < now

    def dead_here(self) -> bool:
        """Its holder is a process of this host that no longer runs (no need to wait for the expiry)."""
        if self.body.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(self.body.get("pid", 0)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError):
            return False
        return False


class _Store:
    """Exclusive create, read, conditional replace and delete of one small object."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.url = lake.url(LEASE)

    # S3: conditional PUTs (If-None-Match / If-Match); a refused precondition is HTTP 412
    def _s3(self, method: str, **kwargs: Any) -> Any:
        bucket, key, _ = self.lake.fs.split_path(self.url)
        return self.lake.fs.call_s3(method, Bucket=bucket, Key=key, **kwargs)

    def _get(self) -> tuple[bytes, str]:
        """The lease's bytes and the ETag of that very version (one GET: a HEAD after it could see a newer
        lease, and a conditional write on that ETag would overwrite a lease never read)."""
        from fsspec.asyn import sync

        fs = self.lake.fs
        bucket, key, _ = fs.split_path(self.url)

        async def get() -> tuple[bytes, str]:
            got = await fs._call_s3("get_object", Bucket=bucket, Key=key)
            async with got["Body"] as body:
                return await body.read(), got["ETag"]

        return sync(fs.loop, get)

    @staticmethod
    def _refused(exc: BaseException) -> bool:
        text = f"{exc!r} {exc.__cause__!r}"  # s3fs keeps botocore's error (with its code) as the cause
        return "PreconditionFailed" in text or "412" in text or "ConditionalRequestConflict" in text

    def create(self, body: bytes) -> bool:
        if self.lake.remote:
            try:
                self._s3("put_object", Body=body, IfNoneMatch="*")
            except FileExistsError:  # s3fs's translation of a 412 on If-None-Match
                return False
            except OSError as exc:
                if self._refused(exc):  # 409 ConditionalRequestConflict: a concurrent conditional write
                    return False
                raise
            return True
        os.makedirs(os.path.dirname(self.url), exist_ok=True)
        tmp = f"{self.url}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(body)
        try:
            os.link(tmp, self.url)  # fails if the name exists: an exclusive create of a complete file
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def read(self) -> Seen | None:
        if self.lake.remote:
            try:
                data, etag = self._get()
            except FileNotFoundError:
                return None
            return Seen(json.loads(data), etag)
        try:
            with open(self.url, "rb") as fh:
                st = os.fstat(fh.fileno())
                return Seen(json.loads(fh.read()), f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
        except FileNotFoundError:
            return None

    def replace(self, body: bytes, seen: Seen) -> bool:
        """Write ``body`` if the lease is still the version ``seen``; False if it changed meanwhile."""
        if self.lake.remote:
            try:
                self._s3("put_object", Body=body, IfMatch=seen.version)
            except (OSError, FileNotFoundError) as exc:
                if self._refused(exc) or isinstance(exc, FileNotFoundError):
                    return False
                raise
            return True
        with self._local_guard():
            now = self.read()
            if now is None or now.version != seen.version:
                return False
            tmp = f"{self.url}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(body)
            os.replace(tmp, self.url)
        return True

    def delete(self, seen: Seen) -> None:
        if self.lake.remote:
            # no conditional DELETE on every S3: checked by token just before (see release)
            with contextlib.suppress(FileNotFoundError):
                self._s3("delete_object")
            return
        with self._local_guard():
            now = self.read()
            if now is not None and now.body.get("token") == seen.body.get("token"):
                os.unlink(self.url)

    @contextlib.contextmanager
    def _local_guard(self) -> Iterator[None]:
        with open(f"{self.url}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


class LakeLease:
    """The lake's lease for one step of this process (see the module docstring)."""

    def __init__(self, lake: Lake, step: str, *, ttl: float | None = None, wait: float | None = None) -> None:
        self.lake, self.step = lake, step
        self.ttl = ttl if ttl is not None else _env_seconds("TWEETLAKE_LEASE_TTL", DEFAULT_TTL)
        self.wait = wait if wait is not None else _env_seconds("TWEETLAKE_LEASE_WAIT", DEFAULT_WAIT)
        self.token = uuid.uuid4().hex
        self.since = isoformat_z(utcnow())
        self.store = _Store(lake)
        self.seen: Seen | None = None
        self.lost: Seen | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _body(self) -> bytes:
        now = time.time()
        body = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "step": self.step,
            "since": self.since,
            "token": self.token,
            "renewed_at": isoformat_z(utcnow()),
            "expires_epoch": round(now + self.ttl, 3),
        }
        return json.dumps(body, indent=1).encode() + b"\n"

    def acquire(self, say: Callable[[str], None] | None = None) -> None:
        deadline = time.monotonic() + self.wait
        told, polls = False, 0
        while True:
            if self.store.create(self._body()):
                self.seen = self.store.read()
                break
            held = self.store.read()
            if held is None:
                continue  # released between our create and our read: try again at once
            if held.expired(time.time()) or held.dead_here():
                if self.store.replace(self._body(), held):
                    log.warning("took over the lake's lease from %s (expired or dead)", held.describe())
                    self.seen = self.store.read()
                    break
                continue
            if time.monotonic() >= deadline:
                raise LeaseBusy(
                    f"another tweetlake run is writing lake {self.lake.root}: {held.describe()} "
                    f"(lease {self.store.url}). Wait for it to finish, or raise TWEETLAKE_LEASE_WAIT "
                    f"(now {self.wait:g} s); a holder that died frees the lease {self.ttl:g} s after its "
                    "last heartbeat"
                )
            if not told:
                (say or log.info)(f"waiting for the lake's lease: held by {held.describe()}")
                told = True
            polls += 1
            # 0.05 s doubling to 2 s, with jitter: quick hand-overs, and few requests during a long wait
            pause = min(2.0, 0.05 * 2**polls) * random.uniform(0.5, 1.0)
            time.sleep(min(pause, max(0.05, deadline - time.monotonic())))
        if self.seen is None or self.seen.body.get("token") != self.token:
            raise LeaseLost(
                f"the lake's lease {self.store.url} changed hands while it was taken: rerun the step"
            )
        self._beat = threading.Thread(target=self._heartbeat, name="tweetlake-lease", daemon=True)
        self._beat.start()

    def renew(self) -> bool:
        """Push the expiry forward; False (and :attr:`lost` set) when another writer holds the lease now."""
        seen = self.seen
        assert seen is not None, "renew() before acquire()"
        if self.store.replace(self._body(), seen):
            now = self.store.read()
            if now is not None and now.body.get("token") == self.token:
                self.seen = now
                return True
        lost = self.store.read() or Seen({"step": "nobody (the lease was deleted)"}, "")
        self.lost = lost
        log.error("lost the lake's lease to %s", lost.describe())
        return False

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                if not self.renew():
                    return
            except Exception as exc:  # a failed heartbeat is retried on the next beat, until the expiry
                log.warning("lease heartbeat failed (retried in %.0f s): %s", self.ttl / 4, exc)

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        if self.lost is not None:
            raise LeaseLost(
                f"this {self.step} lost the lake's lease to {self.lost.describe()} while it worked (no "
                f"heartbeat for {self.ttl:g} s): its writes may interleave with theirs; rerun the step when "
                "the lake is free (every step is idempotent)"
            )
        held = self.store.read()
        if held is not None and held.body.get("token") == self.token:
            self.store.delete(held)


_held: dict[str, tuple[LakeLease, int]] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def lake_lease(lake: Lake, step: str, *, say: Callable[[str], None] | None = None) -> Iterator[LakeLease]:
    """Hold the lake's lease for ``step``; re-entrant within one process (the outermost holder releases)."""
    key = lake.url(LEASE)
    with _held_guard:
        outer = _held.get(key)
        if outer is not None:
            _held[key] = (outer[0], outer[1] + 1)
    if outer is not None:
        try:
            yield outer[0]
        finally:
            with _held_guard:
                lease, depth = _held[key]
                _held[key] = (lease, depth - 1)
        return
    lease = LakeLease(lake, step)
    lease.acquire(say)
    with _held_guard:
        _held[key] = (lease, 1)
    try:
        yield lease
    finally:
        with _held_guard:
            _held.pop(key, None)
        lease.release()
