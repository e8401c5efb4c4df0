"""Build: run dbt (silver and gold) against the lake, in a subprocess with the lake's settings."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dbt_runtime import bronze_read, state
from foundation import lakefiles
from foundation.lake import BUILD_LISTINGS_ENV, Lake, S3Unavailable
from foundation.layout import BUILD_STATE, STAGING_GOLD, STAGING_SILVER
from foundation.settings import DBT_PROJECT_DIR, REPO_ROOT, Settings
from foundation.workdir import work_dir

log = logging.getLogger(__name__)
MODEL_SECONDS = "model_seconds.json"
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
    batches: int = 1
    # seconds per model (dbt's run_results.json), summed over the batches
    model_seconds: dict[str, float] = field(default_factory=dict)
    # one warning per bronze file with lines set aside (silver.rejected_pages)
    rejections: list[str] = field(default_factory=list)

    def describe(self) -> str:
        batches = f" ({self.batches} batches)" if self.batches > 1 else ""
        return (
            f"dbt {' '.join(self.command)}{batches}: {self.passed} passed, {self.warned} warned, "
            f"{self.errored} errored, {self.skipped} skipped in {self.seconds:.1f}s"
        )


def dbt_executable() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else "dbt"


def target_dir(settings: Settings) -> Path:
    """dbt's target folder for this lake (DBT_TARGET_PATH): manifest, run_results.json, MODEL_SECONDS."""
    return work_dir(settings.lake) / "target"


BRONZE_UNTIL_ENV = "TWEETLAKE_BRONZE_UNTIL"


def dbt_env(
    settings: Settings, gold_root: str | None = None, bronze_until: str | None = None
) -> dict[str, str]:
    """The environment dbt runs with: this process's, plus the lake settings profiles.yml reads."""
    env = dict(os.environ)
    # One batch of a bronze backlog (stg_bronze_files): an environment variable, not a --vars, because a
    # changed var makes dbt parse the whole project again where a changed env var
    # re-parses only the file that reads it.
    env.pop(BRONZE_UNTIL_ENV, None)
    if bronze_until:
        env[BRONZE_UNTIL_ENV] = bronze_until
    env.update(settings.env_for_subprocess())
    env[BUILD_LISTINGS_ENV] = "1"  # dbt's process holds the lease: S3 listings cached (foundation.lake)
    folder = work_dir(settings.lake)
    env.setdefault("TWEETLAKE_DUCKDB", str(folder / "tweetlake.duckdb"))
    if settings.duckdb_path:
        env["TWEETLAKE_DUCKDB"] = settings.duckdb_path
    if gold_root:
        env["TWEETLAKE_GOLD_ROOT"] = gold_root
    # staging and intermediate tables in memory: a pipeline build rebuilds them every time (profiles.yml)
    env.setdefault("TWEETLAKE_STAGING_DB", ":memory:")
    env["DBT_PROFILES_DIR"] = str(REPO_ROOT)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DBT_TARGET_PATH"] = str(target_dir(settings))
    env["DBT_LOG_PATH"] = str(folder / "logs")
    # The repo's packages must be importable by dbt's plugin loader (dbt_runtime.duckdb_plugin).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    gold_root: str | None = None,
    bronze_until: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildSummary:
    """Run ``dbt <args>`` in the dbt project; stream its log lines to ``progress``; raise on failure."""
    command = [dbt_executable(), *args]
    started = time.perf_counter()
    started_at = time.time()
    proc = subprocess.Popen(
        command,
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(settings, gold_root, bronze_until),
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
    bronze_read.clear_scratch(settings.lake)  # split files serve one dbt invocation
    if (
        not progress
    ):  # said inside dbt (bronze_read.classify_file): worth a warning where its lines are not shown
        for line in lines:
            if _GONE in line:
                log.warning(line.strip())
    summary = BuildSummary(
        list(args),
        time.perf_counter() - started,
        output_tail=lines[-40:],
        model_seconds=_model_seconds(target_dir(settings) / "run_results.json", started_at),
    )
    for line in lines:
        m = _RESULT.search(line)
        if m:
            summary.passed, summary.warned, summary.errored, summary.skipped = map(int, m.groups())
    if code != 0:
        errors = [ln for ln in lines if "Error" in ln or "error" in ln or "FAIL" in ln][:20]
        detail = "\n".join(errors or lines[-20:])
        if any(_NO_SPACE in ln for ln in lines):  # dbt's own wall of tracebacks says nothing else useful
            detail = (
                f"{_NO_SPACE}: the disk under the lake ({settings.lake}) or the work folder "
                f"({work_dir(settings.lake)}) is full. Free space there (or set TWEETLAKE_WORK_DIR to a "
                "bigger disk), then rerun `tweetlake build`: silver and gold are as they were (each table "
                "file is written aside and moved in whole)."
            )
        unavailable = [ln[ln.index(S3Unavailable.MARKER) :] for ln in lines if S3Unavailable.MARKER in ln]
        if unavailable:  # the store failed: its one message, not every model's traceback
            models = sum(1 for ln in lines if re.search(r"\bERROR creating\b", ln))
            others = f" ({models} model(s) failed so, the models after them skipped)" if models > 1 else ""
            detail = (
                f"{unavailable[0]}{others}\nEach model's files are put in place whole and the build records "
                "the bronze files it read only once every model is built: the rerun reads them again."
            )
        raise BuildError(f"dbt {' '.join(args)} failed (exit {code}):\n{detail}")
    return summary


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NO_SPACE = "No space left on device"
_GONE = "bronze file gone while this build read bronze"


def rejection_warnings(settings: Settings) -> list[str]:
    """One warning per bronze file with lines in silver.rejected_pages: where, why, and what to do."""
    lake = Lake.from_settings(settings)
    files = lakefiles.list_files(
        lake.url(STAGING_SILVER, "rejected_pages", "*.parquet"), settings.s3_endpoint
    )
    if not files:
        return []
    import duckdb

    con = duckdb.connect()
    try:
        lake.register_with(con)
        rows = con.execute(
            "select bronze_file, min(line), count(*), arg_min(reason, line), sum(tweets_guess) "
            "from read_parquet(?) group by bronze_file order by bronze_file",
            [[f["path"] for f in files]],
        ).fetchall()
    finally:
        con.close()
    return [
        f"WARNING {name}:{line}: {count} line(s) set aside ({reason}"
        + (f"; about {tweets} tweet(s) in them" if tweets else "")
        + "). Re-ingest that window (the new file replaces this one) or remove the file; the next build "
        "reads what replaces it. Details: silver.rejected_pages."
        for name, line, count, reason, tweets in rows
    ]


def _model_seconds(run_results: Path, since: float) -> dict[str, float]:
    """Execution seconds per model of the dbt invocation that wrote ``run_results`` after ``since``."""
    try:
        if run_results.stat().st_mtime < since:
            return {}
        doc = json.loads(run_results.read_text())
    except (OSError, ValueError):
        return {}
    return {
        r["unique_id"].split(".")[-1]: round(float(r.get("execution_time") or 0.0), 3)
        for r in doc.get("results", [])
        if str(r.get("unique_id", "")).startswith("model.")
    }


def build(
    settings: Settings,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    gold_root: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildSummary:
    """``dbt build`` (models and their tests) for the whole project or a selection (``tag:silver``).

    A bronze backlog larger than ``settings.build_batch_bytes`` is built in batches (ingestion/backlog.py):
    one incremental silver build per batch, the first with ``--full-refresh`` if asked, then the given
    selection with whatever is left, so memory follows the batch, not the backlog. A failed batch leaves
    silver consistent (each batch records its bronze files last); the next build carries on from there.
    """
    lakefiles.clear_scratch(settings.lake)  # what a killed build left
    migrated = state.migrate(Lake.from_settings(settings))
    if progress and migrated != "nothing to move":
        progress(f"build state {migrated}")
    staged = state.stage_silver(Lake.from_settings(settings))
    if progress and staged != "nothing to stage":
        progress(f"silver {staged}")
    full_refresh = _damaged(settings, select, progress) | full_refresh
    full_refresh = full_refresh or _bronze_gone(settings, select, progress)
    cuts = _batch_cuts(settings, select, full_refresh)
    total = len(cuts) + 1
    batches: list[BuildSummary] = []
    for number, until in enumerate([*cuts, None], start=1):
        last = until is None
        if progress and cuts:
            what = (
                f"new bronze files up to {until.split('/', 1)[0]}"
                if until is not None
                else "the remaining bronze files"
            )
            progress(f"batch {number}/{total}: {what}")
        args = ["build", *_selection(select if last else "tag:silver")]
        if full_refresh and number == 1:
            args.append("--full-refresh")
        try:
            batches.append(
                run_dbt(settings, args, gold_root=gold_root, bronze_until=until, progress=progress)
            )
        except BuildError as exc:
            if number == 1:
                raise
            done = "batch 1 is" if number == 2 else f"batches 1-{number - 1} are"
            raise BuildError(
                f"{exc}\nbatch {number}/{total} failed; {done} built and recorded in "
                f"{BUILD_STATE}/bronze_files. Fix the cause, then run `tweetlake build` (without "
                "--full-refresh) to carry on from there."
            ) from None
    summary = _combined(batches) if len(batches) > 1 else batches[0]
    summary.rejections = rejection_warnings(settings)
    for warning in summary.rejections:
        (progress or log.warning)(warning)
    # seconds per model of this build, summed over its batches (read by benchmarks/run.py)
    (target_dir(settings) / MODEL_SECONDS).write_text(
        json.dumps({"batches": summary.batches, "models": summary.model_seconds}, indent=1)
    )
    return summary


def _selection(select: str | None) -> list[str]:
    # buildable: a test spanning layers (a gold -> silver relationship) runs with the layer that
    # completes it, not before its model exists.
    return ["--select", select, "--indirect-selection", "buildable"] if select else []


def _damaged(settings: Settings, select: str | None, progress: Callable[[str], None] | None) -> bool:
    """Whether a silver, build-state or staged gold file is damaged (truncated, overwritten): then the
    build rebuilds them from bronze instead of failing on it. Damaged sentiment cache files are removed
    (append-only, never rebuilt: the texts they scored are scored again)."""
    if select not in (None, "tag:silver"):
        return False
    lake = Lake.from_settings(settings)
    say = progress or log.warning

    def damaged(*patterns: str) -> list[str]:
        files = [f for p in patterns for f in lakefiles.list_files(lake.url(p), settings.s3_endpoint)]
        return lakefiles.damaged_parquet(files, settings.s3_endpoint)

    scores = damaged(f"{BUILD_STATE}/tweet_sentiment/**/*.parquet")
    if scores:
        say(
            f"removing {len(scores)} damaged sentiment cache file(s) ({scores[0]}): "
            "their texts are scored again"
        )
        lakefiles.remove_files(scores, settings.s3_endpoint)
    tables = damaged(
        f"{STAGING_SILVER}/**/*.parquet",
        f"{BUILD_STATE}/bronze_files/**/*.parquet",
        f"{STAGING_GOLD}/*.parquet",
    )
    if tables:
        more = f" and {len(tables) - 1} more" if len(tables) > 1 else ""
        say(
            f"{len(tables)} damaged table file(s), not whole Parquet ({tables[0]}{more}): rebuilding silver "
            "and gold from bronze"
        )
    return bool(tables)


def _bronze_gone(settings: Settings, select: str | None, progress: Callable[[str], None] | None) -> bool:
    """Whether bronze files silver was built from are gone or rewritten: then silver is rebuilt."""
    if select not in (None, "tag:silver"):
        return False
    from dbt_runtime.backlog import gone_files

    gone = gone_files(settings)
    if gone:
        more = f" and {len(gone) - 1} more" if len(gone) > 1 else ""
        (progress or log.warning)(
            f"{len(gone)} bronze file(s) built into silver before are gone or rewritten ({gone[0]}{more}): "
            "rebuilding silver from bronze so that it holds exactly what bronze holds"
        )
    return bool(gone)


def _batch_cuts(settings: Settings, select: str | None, full_refresh: bool) -> list[str]:
    """Where to cut the bronze backlog (empty: one build). Only builds of silver read bronze."""
    if select not in (None, "tag:silver") or settings.build_batch_bytes <= 0:
        return []
    from dbt_runtime.backlog import batch_cuts, pending_files

    return batch_cuts(pending_files(settings, full_refresh=full_refresh), settings.build_batch_bytes)


def _combined(parts: list[BuildSummary]) -> BuildSummary:
    last = parts[-1]
    return BuildSummary(
        last.command,
        sum(p.seconds for p in parts),
        passed=sum(p.passed for p in parts),
        warned=sum(p.warned for p in parts),
        errored=sum(p.errored for p in parts),
        skipped=sum(p.skipped for p in parts),
        output_tail=last.output_tail,
        batches=len(parts),
        model_seconds=_summed(p.model_seconds for p in parts),
    )


def _summed(timings: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for one in timings:
        for name, seconds in one.items():
            total[name] = round(total.get(name, 0.0) + seconds, 3)
    return total
