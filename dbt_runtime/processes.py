"""Worker processes for the build's CPU-bound Python steps (sentiment, bronze classification).

A dbt build is one Python process and its Python work holds the GIL, so a step that is pure Python (VADER,
msgspec validating every bronze line) uses one core unless it is handed to worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def cores() -> int:
    """The cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@contextmanager
def _without_main() -> Iterator[None]:
    """Spawned workers need only the worker's module: keep them from re-importing the caller's main script
    (dbt's CLI, seconds of imports per worker)."""
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if main is not None and hasattr(main, k)}
    try:
        for key in saved:
            setattr(main, key, None) if key == "__spec__" else delattr(main, key)
        yield
    finally:
        for key, value in saved.items():
            setattr(main, key, value)


@contextmanager
def spawn_pool(processes: int) -> Iterator[Any]:
    """A ``multiprocessing`` pool of spawned workers.

    Spawn, not fork: the caller may be a multi-threaded process (DuckDB, dbt) that must not be forked."""
    ctx = multiprocessing.get_context("spawn")
    with _without_main(), ctx.Pool(processes) as pool:
        yield pool
