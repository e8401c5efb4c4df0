"""The lake's storage: one fsspec filesystem for a local folder or an S3 bucket, with atomic writes.

Every read and write of lake files goes through :class:`Lake`, so the same code serves ``./lake`` and
``s3://bucket/prefix``. Writes are atomic: locally a temporary file in the same folder is renamed over the
target; on S3 a single PUT either lands whole or not at all. Temporary names start with ``.`` and end
in ``.tmp`` so no reader's glob (``*.jsonl``, ``*.parquet``) ever matches them.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import json
import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from foundation.settings import S3Client, Settings, is_remote, s3_client

if TYPE_CHECKING:  # imported when the filesystem is first used: not every command needs it
    import fsspec


def s3_filesystem(endpoint: str | None = None) -> fsspec.AbstractFileSystem:
    """An s3fs filesystem; credentials from the standard AWS chain, never from arguments.

    Timeouts and retries (``TWEETLAKE_S3_TIMEOUT``, ``TWEETLAKE_S3_MAX_ATTEMPTS``, see
    :func:`foundation.settings.s3_client`): botocore's read timeout is 60 s and its legacy retries, under
    s3fs' own 5 rounds, made one slow or failing request take minutes (25 tries of a SlowDown PUT). Here
    botocore retries each request (``standard`` mode: 500/502/503/504, SlowDown and other throttling,
    timeouts, dropped connections, with jittered backoff) up to ``max_attempts`` tries, and s3fs adds one
    round (``retries = 2``) for what botocore cannot retry: a body cut off while it is read. After that the
    request fails as :class:`S3Unavailable`, naming the request and the object.
    """
    if os.environ.get(BUILD_LISTINGS_ENV) == "1":
        return _build_filesystem(endpoint)
    return _new_s3_filesystem(endpoint, listings_cache=False)


# Set by dbt_runtime.runner for the dbt subprocess of a build: see _build_filesystem.
BUILD_LISTINGS_ENV = "TWEETLAKE_S3_BUILD_LISTINGS"


@functools.cache
def _build_filesystem(endpoint: str | None) -> fsspec.AbstractFileSystem:
    """The one s3fs filesystem of a build's dbt process, with s3fs' listings cache on.

    DuckDB reads the lake's tables through fsspec: every model's read lists its table's folders again and
    asks for each file's size before it reads it (a 600-tweet build was 2,064 requests, 826 of them LISTs
    and 1,135 HEADs). With the listings cache, a folder is listed once and a file's size comes from that
    listing. That is safe in this process only: it holds the lake's lease (no other process rewrites the
    tables), every Lake of the process shares this one instance (s3fs drops the cached listing of what it
    writes or deletes itself), and the bronze an ingest adds meanwhile is for the next build anyway (a
    build takes the bronze files it listed when it started)."""
    return _new_s3_filesystem(endpoint, listings_cache=True)


def _new_s3_filesystem(endpoint: str | None, *, listings_cache: bool) -> fsspec.AbstractFileSystem:
    client = s3_client()
    client_kwargs: dict[str, Any] = {}
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    config_kwargs = {
        "connect_timeout": client.connect_timeout,
        "read_timeout": client.timeout,
        "retries": {"max_attempts": client.max_attempts, "mode": "standard"},
    }
    # no listings cache but in a build's process: other processes (dbt, Airflow workers) write the bucket
    return _lake_s3fs()(
        client_kwargs=client_kwargs,
        config_kwargs=config_kwargs,
        use_listings_cache=listings_cache,
        skip_instance_cache=True,
        tweetlake_client=client,
    )


# botocore's name of a request -> what it does, for the messages
_REQUESTS = {
    "put_object": "PUT",
    "get_object": "GET",
    "head_object": "HEAD",
    "head_bucket": "HEAD",
    "list_objects_v2": "LIST",
    "delete_object": "DELETE",
    "delete_objects": "DELETE",
    "copy_object": "COPY",
    "create_multipart_upload": "PUT (multipart)",
    "upload_part": "PUT (multipart)",
    "complete_multipart_upload": "PUT (multipart)",
}
# S3 error codes of a store in trouble (besides any 5xx status): worth a retry, then a clear failure
_UNAVAILABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}


@functools.cache
def _lake_s3fs() -> type[fsspec.AbstractFileSystem]:
    """The s3fs filesystem class the lake uses (made on first use: importing s3fs takes a while)."""
    import s3fs

    class LakeS3FileSystem(s3fs.S3FileSystem):
        """s3fs whose requests that fail because the store is unavailable (after the retries) raise
        :class:`S3Unavailable`, naming the request, the object and what to do; other errors (a missing
        object, a refused precondition, access denied) are s3fs' own, as before."""

        retries = 2  # s3fs' rounds over botocore's retries: see s3_filesystem

        def __init__(self, *args: Any, tweetlake_client: S3Client | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tweetlake_client = tweetlake_client or s3_client()

        async def _call_s3(self, method: str, *akwarglist: Any, **kwargs: Any) -> Any:
            try:
                return await super()._call_s3(method, *akwarglist, **kwargs)
            except Exception as exc:
                failure = unavailable(exc, method, kwargs, self.client_kwargs.get("endpoint_url"))
                if failure is None:
                    raise
                failure.attempts = self.tweetlake_client.max_attempts
                raise failure from exc

    return LakeS3FileSystem


def unavailable(
    exc: BaseException, method: str, kwargs: dict[str, Any], endpoint: str | None
) -> S3Unavailable | None:
    """An :class:`S3Unavailable` for ``exc`` if it says the store is down, overloaded or too slow (a 5xx,
    a throttling code, a timeout, a refused or dropped connection); None for any other error."""
    import botocore.exceptions

    why = ""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen and not why:  # s3fs keeps botocore's error as the cause
        seen.add(id(err))
        if isinstance(err, S3Unavailable):
            return None  # already named (a retry wrapper around an inner request)
        if isinstance(err, botocore.exceptions.ClientError):
            response: dict[str, Any] = getattr(err, "response", {}) or {}
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = str(response.get("Error", {}).get("Code") or status)
            if status < 500 and code not in _UNAVAILABLE_CODES:
                return None
            message = response.get("Error", {}).get("Message") or ""
            why = f"HTTP {status} {code}" + (f" ({message})" if message else "")
        elif isinstance(err, (botocore.exceptions.ReadTimeoutError, asyncio.TimeoutError, TimeoutError)):
            why = "no answer within TWEETLAKE_S3_TIMEOUT (a timeout)"
        elif isinstance(err, (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError)):
            why = f"connection failed ({type(err).__name__})"
        else:
            err = err.__cause__ or err.__context__
    if not why:
        return None
    bucket = kwargs.get("Bucket", "")
    key = kwargs.get("Key") or kwargs.get("Prefix") or ""
    objects = (kwargs.get("Delete") or {}).get("Objects") or []
    if not key and objects:
        key = objects[0].get("Key", "") + (f" and {len(objects) - 1} more" if len(objects) > 1 else "")
    return S3Unavailable(
        request=f"{_REQUESTS.get(method, method.upper())} ({method})",
        target=f"s3://{bucket}/{key}" if bucket else "the bucket list",
        why=why,
        endpoint=endpoint or "AWS S3",
    )


class Lake:
    """A lake root (``/abs/path`` or ``s3://bucket/prefix``) and the filesystem behind it."""

    def __init__(self, root: str, s3_endpoint: str | None = None) -> None:
        self.root = root.rstrip("/")
        self.s3_endpoint = s3_endpoint

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        return cls(settings.lake, settings.s3_endpoint)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    @property
    def remote(self) -> bool:
        return is_remote(self.root)

    def snapshot_reader(self) -> Lake:
        """The same lake, with a filesystem of its own whose S3 listings are cached for as long as it lives:
        for a step that holds the lease and only reads tables through it (validation's DuckDB), so that a
        folder listed once answers every later size and existence question without a HEAD each time a
        query opens a file. A local lake needs nothing: itself."""
        if not self.remote:
            return self
        reader = Lake(self.root, self.s3_endpoint)
        reader.__dict__["fs"] = _new_s3_filesystem(self.s3_endpoint, listings_cache=True)
        return reader

    @cached_property
    def fs(self) -> fsspec.AbstractFileSystem:
        if self.remote:
            return s3_filesystem(self.s3_endpoint)
        import fsspec

        return fsspec.filesystem("file", auto_mkdir=True)

    def url(self, *parts: str) -> str:
        """The full URL (or absolute path) of a path inside the lake."""
        rel = posixpath.join(*parts) if parts else ""
        return f"{self.root}/{rel}" if rel else self.root

    def register_with(self, con: Any) -> None:
        """Let a DuckDB connection read this lake's URLs: s3:// through the lake's s3fs (DuckDB cannot
        download its httpfs extension here); a local lake needs nothing."""
        if self.remote:
            con.register_filesystem(self.fs)

    def _strip(self, url: str) -> str:
        return self.fs._strip_protocol(url) if self.remote else url

    # -- writing -------------------------------------------------------------------------------------------
    def _write_local(self, url: str, fill: Callable[[AtomicWriter], object]) -> None:
        """Write a local file atomically: ``fill`` writes a temporary file beside it, renamed over it."""
        with _LocalWriter(url) as writer:
            fill(writer)

    def write_bytes(self, rel: str, data: bytes) -> str:
        """Write ``data`` to ``rel`` atomically; returns the full URL."""
        url = self.url(rel)
        if self.remote:
            self.fs.pipe_file(self._strip(url), data)
        else:
            self._write_local(url, lambda fh: fh.write(data))
        return url

    def open_atomic(self, rel: str) -> AtomicWriter:
        """A writer for ``rel`` whose content appears only when it is committed, whole (see
        :class:`AtomicWriter`): locally streamed to a temporary file beside the target, on S3 kept in memory
        for one PUT."""
        url = self.url(rel)
        if self.remote:
            return _MemoryWriter(url, lambda data: self.fs.pipe_file(self._strip(url), data))
        return _LocalWriter(url)

    def remove_temporary(self, pattern: str) -> list[str]:
        """Remove what interrupted local writes left behind: the temporary files of targets matching
        ``pattern`` (relative, a glob on the final names). S3 writes leave none. Returns them (relative)."""
        if self.remote:
            return []
        import glob

        folder, name = posixpath.split(pattern)
        found = glob.glob(os.path.join(glob.escape(self.root), folder, f".{name}.*.tmp"))
        removed = []
        for path in sorted(found):
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.append(os.path.relpath(path, self.root).replace(os.sep, "/"))
        return removed

    def write_json(self, rel: str, obj: Any) -> str:
        return self.write_bytes(rel, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())

    def put_file(self, local_path: str, rel: str) -> str:
        """Copy a local file into the lake atomically, streamed (never whole in memory)."""
        url = self.url(rel)
        if self.remote:
            # one PUT, or a multipart upload that appears only when completed
            self.fs.put_file(local_path, self._strip(url))
        else:
            with open(local_path, "rb") as src:
                self._write_local(url, lambda fh: shutil.copyfileobj(src, fh, 8 << 20))
        return url

    # -- reading -------------------------------------------------------------------------------------------
    def read_bytes(self, rel: str) -> bytes:
        return self.fs.cat_file(self._strip(self.url(rel)))

    def read_json(self, rel: str, default: Any = None) -> Any:
        try:
            raw = self.read_bytes(rel)
        except FileNotFoundError:
            return default
        return json.loads(raw)

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self._strip(self.url(rel)))

    def glob(self, pattern: str) -> list[str]:
        """Paths relative to the root that match ``pattern`` (relative), sorted; temporary files excluded."""
        base = self._strip(self.root)
        hits = self.fs.glob(f"{base}/{pattern}")
        rels = [h[len(base) :].lstrip("/") for h in hits]
        return sorted(r for r in rels if not posixpath.basename(r).startswith("."))

    def walk_files(self, rel: str) -> Iterator[str]:
        """Every file below ``rel`` (relative paths)."""
        base = self._strip(self.root)
        target = self._strip(self.url(rel))
        if not self.fs.exists(target):
            return
        for path in sorted(self.fs.find(target)):
            yield path[len(base) :].lstrip("/")

    # -- removing ------------------------------------------------------------------------------------------
    def remove(self, rels: list[str]) -> None:
        if rels:
            self.fs.rm([self._strip(self.url(r)) for r in rels])

    def remove_tree(self, rel: str) -> None:
        target = self._strip(self.url(rel))
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def ensure_bucket(self) -> None:
        """Check the lake is reachable (and a local root exists); a clear error otherwise."""
        if not self.remote:
            os.makedirs(self.root, exist_ok=True)
            return
        bucket = self._strip(self.root).split("/", 1)[0]
        try:
            self.fs.ls(bucket, detail=False)
        except FileNotFoundError as exc:
            raise LakeError(
                f"S3 bucket {bucket!r} does not exist (lake {self.root}); create it or fix TWEETLAKE_LAKE"
            ) from exc
        except PermissionError as exc:
            raise LakeError(
                f"access to S3 bucket {bucket!r} denied: check the AWS credentials in your environment "
                "or profile (tweetlake never stores keys)"
            ) from exc


def _temp_path(url: str) -> str:
    """A new temporary name beside local file ``url`` (its folder created): ``.<name>.<hex>.tmp``."""
    folder, name = os.path.split(url)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")


class AtomicWriter:
    """Writes one object in pieces; it appears whole on :meth:`commit`, or not at all.

    ``write(*parts)`` appends byte strings; ``commit()`` lands the object; ``abort()`` (also on leaving a
    ``with`` block by an exception) drops what was written. ``bytes`` counts what was written so far.
    """

    url: str
    bytes: int  # bytes written so far (shadows the builtin inside this class body: see write())

    def write(self, *parts: builtins.bytes) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class _LocalWriter(AtomicWriter):
    """Streams to a temporary file beside the target (never the whole object in memory), fsynced and
    renamed over it on commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.bytes = 0
        self.tmp = _temp_path(url)
        self.fd: int | None = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)

    def write(self, *parts: bytes) -> None:
        if self.fd is None:
            raise ValueError(f"{self.url}: already committed or aborted")
        views = [memoryview(p) for p in parts if p]
        while views:  # one system call, no copy; a short write continues where it stopped
            try:
                done = os.writev(self.fd, views)
            except OSError as exc:  # a full disk: say which file (writev's error names none)
                exc.filename = exc.filename or self.url
                raise
            self.bytes += done
            while views and done >= len(views[0]):
                done -= len(views.pop(0))
            if done:
                views[0] = views[0][done:]

    def commit(self) -> None:
        if self.fd is None:
            raise ValueError(f"{self.url}: already committed or aborted")
        fd, self.fd = self.fd, None
        try:
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self._unlink()
            raise
        os.close(fd)
        try:
            os.replace(self.tmp, self.url)
        except BaseException:
            self._unlink()
            raise

    def abort(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
            self._unlink()

    def _unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)

    def __del__(self) -> None:  # dropped without commit or abort: leave no open file behind
        if getattr(self, "fd", None) is not None:
            with contextlib.suppress(Exception):
                self.abort()


class _MemoryWriter(AtomicWriter):
    """Collects the pieces; commit hands them, joined, to ``land`` (one PUT: whole or nothing)."""

    def __init__(self, url: str, land: Callable[[bytes], object]) -> None:
        self.url = url
        self.bytes = 0
        self.land = land
        self.parts: list[bytes] | None = []

    def write(self, *parts: bytes) -> None:
        if self.parts is None:
            raise ValueError(f"{self.url}: already committed or aborted")
        self.parts.extend(parts)
        self.bytes += sum(len(p) for p in parts)

    def commit(self) -> None:
        if self.parts is None:
            raise ValueError(f"{self.url}: already committed or aborted")
        data = b"".join(self.parts)
        self.parts = None
        self.land(data)

    def abort(self) -> None:
        self.parts = None


class LakeError(RuntimeError):
    """The lake cannot be read or written; the message says why."""


class S3Unavailable(LakeError, OSError):
    """An S3 request failed after its retries because the store is down, overloaded or too slow.

    An ``OSError`` too, as the s3fs error it replaces was: callers that handle storage errors still do. Its
    message names the request (``PUT (put_object)``), the object and the endpoint, never a credential
    (the request's signed headers are not part of it).
    """

    MARKER = "S3 is unavailable"  # dbt's output carries the message: the build finds it by this

    def __init__(self, request: str, target: str, why: str, endpoint: str, attempts: int = 0) -> None:
        super().__init__(request, target, why, endpoint)
        self.request, self.target, self.why, self.endpoint = request, target, why, endpoint
        self.attempts = attempts

    def __str__(self) -> str:
        tries = f" after its retries (TWEETLAKE_S3_MAX_ATTEMPTS={self.attempts})" if self.attempts else ""
        return (
            f"{self.MARKER}: {self.request} of {self.target} failed{tries}: {self.why}, at {self.endpoint}. "
            "Check that the store is up and TWEETLAKE_S3_ENDPOINT points at it (a slow store: raise "
            "TWEETLAKE_S3_TIMEOUT or TWEETLAKE_S3_MAX_ATTEMPTS), then rerun the same command: every object "
            "lands whole or not at all, so nothing half-written stays and the rerun carries on."
        )
