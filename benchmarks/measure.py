"""Run one step in a child process and measure it: wall seconds, CPU seconds, peak RSS of its process tree."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import psutil


@dataclass
class Measurement:
    step: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    tweets: int | None = None

    @property
    def tweets_per_s(self) -> float | None:
        return self.tweets / self.wall_s if self.tweets and self.wall_s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tweets_per_s"] = round(self.tweets_per_s, 1) if self.tweets_per_s else None
        return d


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run_measured(
    step: str,
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    tweets: int | None = None,
    log_path: str | None = None,
    interval: float = 0.05,
) -> Measurement:
    """Run ``command``; sample the summed RSS of its whole process tree every ``interval`` seconds."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    started = time.perf_counter()
    popen = subprocess.Popen(list(command), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    proc = psutil.Process(popen.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc))
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 gives the child's CPU time including every descendant it waited for (dbt, pool workers).
    _, status, usage = os.wait4(popen.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    popen.returncode = os.waitstatus_to_exitcode(status)
    if not isinstance(out, int):
        out.close()
    return Measurement(
        step,
        round(wall, 3),
        round(usage.ru_utime + usage.ru_stime, 3),
        round(max(peak, usage.ru_maxrss * 1024) / 2**20, 1),
        popen.returncode,
        tweets,
    )
