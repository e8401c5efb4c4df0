"""Local working state for one lake: the DuckDB file dbt works in, dbt's target folder, and a lock.

The lake's files are the source of truth; everything here can be deleted at any time and is rebuilt by the
next run. Each lake gets its own folder (keyed by its URL), so runs against different lakes never share a
DuckDB file, and an exclusive lock keeps two runs on the same lake from writing at once (DuckDB allows one
writer per database file).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.settings import REPO_ROOT


class LakeBusy(RuntimeError):
    """Another run holds this lake's lock."""


def work_dir(lake: str) -> Path:
    base = Path(os.environ.get("TWEETLAKE_WORK_DIR") or REPO_ROOT / ".tweetlake")
    slug = hashlib.sha1(lake.encode()).hexdigest()[:12]
    path = base / f"lake-{slug}"
    path.mkdir(parents=True, exist_ok=True)
    marker = path / "LAKE"
    if not marker.exists():
        marker.write_text(lake + "\n")
    return path


@contextmanager
def lake_lock(lake: str, *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the lake's exclusive lock; raise :class:`LakeBusy` with who holds it if it stays taken."""
    folder = work_dir(lake)
    lock_path = folder / "run.lock"
    fh = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    raise LakeBusy(
                        f"another tweetlake run is writing lake {lake} ({holder}); wait for it to finish "
                        f"(DuckDB allows one writer). If no run is alive, the lock frees itself: {lock_path}"
                    ) from None
                time.sleep(0.5)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
        fh.flush()
        yield folder
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
