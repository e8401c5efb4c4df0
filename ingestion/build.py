"""Build: run dbt (silver and gold) against the lake, in a subprocess with the lake's settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.config import DBT_PROJECT_DIR, REPO_ROOT, Settings
from ingestion.workdir import work_dir

_RESULT = re.compile(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)")


class BuildError(RuntimeError):
    """dbt failed; the message carries dbt's own error lines."""


@dataclass
class BuildSummary:
    command: list[str]
    seconds: float
    passed: int = 0
    warned: int = 0
    errored: int = 0
    skipped: int = 0
    output_tail: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"dbt {' '.join(self.command)}: {self.passed} passed, {self.warned} warned, "
            f"{self.errored} errored, {self.skipped} skipped in {self.seconds:.1f}s"
        )


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else "dbt"


def dbt_env(settings: Settings, gold_root: str | None = None) -> dict[str, str]:
    """The environment dbt runs with: this process's, plus the lake settings profiles.yml reads."""
    env = dict(os.environ)
    env.update(settings.env_for_subprocess())
    folder = work_dir(settings.lake)
    env.setdefault("TWEETLAKE_DUCKDB", str(folder / "tweetlake.duckdb"))
    if settings.duckdb_path:
        env["TWEETLAKE_DUCKDB"] = settings.duckdb_path
    if gold_root:
        env["TWEETLAKE_GOLD_ROOT"] = gold_root
    env["DBT_PROFILES_DIR"] = str(REPO_ROOT)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DBT_TARGET_PATH"] = str(folder / "target")
    env["DBT_LOG_PATH"] = str(folder / "logs")
    # The repo's packages must be importable by dbt's plugin loader (ingestion.duckdb_plugin).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildSummary:
    """Run ``dbt <args>`` in the dbt project; stream its log lines to ``progress``; raise on failure."""
    command = [dbt_executable(), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(settings, gold_root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = _ANSI.sub("", raw.rstrip())
        lines.append(line)
        if progress and line.strip():
            progress(f"  dbt | {line}")
    code = proc.wait()
    summary = BuildSummary(list(args), time.perf_counter() - started, output_tail=lines[-40:])
    for line in lines:
        m = _RESULT.search(line)
        if m:
            summary.passed, summary.warned, summary.errored, summary.skipped = map(int, m.groups())
    if code != 0:
        errors = [ln for ln in lines if "Error" in ln or "error" in ln or "FAIL" in ln][:20]
        detail = "\n".join(errors or lines[-20:])
        raise BuildError(f"dbt {' '.join(args)} failed (exit {code}):\n{detail}")
    return summary


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build(
    settings: Settings,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildSummary:
    """``dbt build`` (models and their tests) for the whole project or a selection (``tag:silver``)."""
    args = ["build"]
    if select:
        # buildable: a test spanning layers (a gold -> silver relationship) runs with the layer that
        # completes it, not before its model exists.
        args += ["--select", select, "--indirect-selection", "buildable"]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(settings, args, gold_root=gold_root, progress=progress)
