"""The benchmark runner: one command, one run, every number measured on the same bronze.

    .venv/bin/python -m benchmarks.run --size 100k --size 1M       # or: make bench SIZES="100k 1M"
    .venv/bin/python -m benchmarks.run --size 10M --allow-10m      # 10M: behind a flag (~25 min, ~20 GB disk)
    .venv/bin/python -m benchmarks.run --size 1M --against ../old  # before/after: another checkout, same run

For each size N it generates N tweets over 30 days with the sample source into a fresh lake, then times, each
step in its own child process (wall, CPU, peak RSS of the process tree): ingest to bronze; the floor (DuckDB's
raw parse of the same bronze, each line by the read of its shape, as the build reads it); the full build
(silver + gold, with sentiment's share read from dbt's own timings); validation; the pandas baseline; and an
incremental refresh after one more day (~1/30 of the lake).
It writes ``benchmarks/results/<size>.json`` and ``.md`` and prints the table.

``--against TREE`` (a ``git worktree`` of the previous main, with its own ``.venv``) first runs the same steps
with that checkout's ``tweetlake`` on bronze generated the same way, then this one's, and adds a before/after
table (``<size>-compare.md``): a change that touches the build is judged within one run, on one machine state.
With ``--same-bronze`` both checkouts build one bronze, this checkout's ingest (hard links of its files, the
day's files added before the incremental build): the table then shows what the code costs, not the data
(a change to the sample source changes each tree's bronze too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import floor
from benchmarks.measure import Measurement, run_measured
from dbt_runtime.runner import MODEL_SECONDS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"
BIN = Path(sys.executable).parent
DAYS = 30
END = date(2026, 10, 31)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k" if n % 1_000 == 0 else str(n)


def machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
    }


def dbt_model_timings(work_dir: Path) -> tuple[dict[str, float], int]:
    """Per-model execution seconds of the last ``tweetlake build`` (summed over its batches), and batches."""
    found = sorted(work_dir.glob(f"lake-*/target/{MODEL_SECONDS}"))
    if not found:
        return {}, 0
    doc = json.loads(found[-1].read_text())
    return doc["models"], doc["batches"]


def sentiment_seconds(timings: dict[str, float]) -> float:
    return sum(sec for name, sec in timings.items() if "sentiment" in name and "daily" not in name)


class StepFailed(RuntimeError):
    """A step exited non-zero; ``result`` holds the steps measured so far, the failed one last."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class Bench:
    """One size's run with the ``tweetlake`` of checkout ``tree``: a fresh lake and work dir, a shared log."""

    def __init__(self, n: int, work: Path, tree: Path, tag: str | None = None) -> None:
        tag = tag if tag is not None else "" if tree == ROOT else "-against"
        self.n, self.work, self.tree = n, work, tree
        self.lake = work / f"lake-{label(n)}{tag}"
        self.state = work / f"state-{label(n)}{tag}"
        self.reads = work / f"floor-{label(n)}{tag}"  # which read takes each bronze line (benchmarks.floor)
        for path in (self.lake, self.state, self.reads):
            shutil.rmtree(path, ignore_errors=True)
        self.state.mkdir(parents=True)
        self.log = str(work / f"run-{label(n)}{tag}.log")
        self.env = {
            **os.environ,
            "TWEETLAKE_WORK_DIR": str(self.state),
            "TWEETLAKE_LAKE": str(self.lake),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
        self.tl = str(BIN / "tweetlake") if tree == ROOT else str(tree / ".venv" / "bin" / "tweetlake")
        self.steps: dict[str, Measurement] = {}

    def measured(self) -> dict[str, Any]:
        """What every result holds, complete or not: the size, the machine, the steps measured so far."""
        return {
            "size": self.n,
            "label": label(self.n),
            "days": DAYS,
            "machine": machine(),
            "tree": str(self.tree),
            "commit": commit_of(self.tree),
            "steps": {k: v.to_dict() for k, v in self.steps.items()},
        }

    def step(self, name: str, cmd: list[str], tweets: int | None = None) -> Measurement:
        tag = label(self.n)
        print(f"[{tag}] {name} ...", flush=True)
        # the floor and the baseline are this checkout's modules; the tweetlake steps run in ``tree``
        cwd = str(self.tree if cmd[0] == self.tl else ROOT)
        m = run_measured(name, cmd, env=self.env, cwd=cwd, tweets=tweets, log_path=self.log)
        self.steps[name] = m
        if m.returncode != 0:
            failed = {"step": name, "returncode": m.returncode, "log": self.log}
            raise StepFailed(
                f"benchmark step {name} failed (exit {m.returncode}); see {self.log}",
                {**self.measured(), "failed": failed, "ratios": {}},
            )
        print(
            f"[{tag}] {name}: {m.wall_s:.1f}s wall, {m.cpu_s:.1f}s CPU, {m.peak_rss_mb:.0f} MB peak",
            flush=True,
        )
        return m

    def ingest(self, name: str, tweets: int, days: int, end: date) -> None:
        cmd = [self.tl, "ingest", "--tweets", str(tweets), "--days", str(days), "--end-date", end.isoformat()]
        self.step(name, cmd, tweets=tweets)


@dataclass(frozen=True)
class Bronze:
    """One bronze for both checkouts (``--same-bronze``): the files of the 30 days, then of the extra day."""

    lake: Path
    days: list[str]
    extra_day: list[str]

    def link(self, files: list[str], lake: Path) -> None:
        """Hard links of ``files`` (relative to this lake) into ``lake``: a copy costing no time or disk."""
        for rel in files:
            (lake / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(self.lake / rel, lake / rel)


def bronze_files(lake: Path) -> set[str]:
    return {str(p.relative_to(lake)) for p in (lake / "bronze").rglob("*") if p.is_file()}


def shared_bronze(n: int, work: Path) -> tuple[Bronze, Measurement, Measurement]:
    """This checkout's ingest of ``n`` tweets and of the extra day, timed, into one lake of ``work``."""
    b = Bench(n, work, ROOT, tag="-bronze")
    b.ingest("ingest", n, DAYS, END)
    days = bronze_files(b.lake)
    b.ingest("ingest_day", max(1, n // DAYS), 1, END + timedelta(days=1))
    extra_day = bronze_files(b.lake) - days
    return Bronze(b.lake, sorted(days), sorted(extra_day)), b.steps["ingest"], b.steps["ingest_day"]


def bench_size(
    n: int,
    *,
    baseline: bool,
    keep: bool,
    work: Path = WORK,
    tree: Path = ROOT,
    bronze: Bronze | None = None,
    ingests: tuple[Measurement, Measurement] | None = None,
) -> dict[str, Any]:
    """Every step for ``n`` tweets with the ``tweetlake`` of checkout ``tree`` (this one by default); on
    ``bronze`` when given (its ingests, measured once, are reported as this run's)."""
    b = Bench(n, work, tree)
    py = sys.executable
    if bronze is None:
        b.ingest("ingest", n, DAYS, END)
    else:
        bronze.link(bronze.days, b.lake)
        if ingests:
            b.steps["ingest"] = ingests[0]
    # which read takes each line, by the build's classifier, before the measured step: the floor times
    # DuckDB's parse alone
    floor.split(str(b.lake), b.reads)
    b.step("floor", [py, "-m", "benchmarks.floor", str(b.reads)], tweets=n)
    b.step("build_full", [b.tl, "build", "--full-refresh"], tweets=n)
    full_timings, full_batches = dbt_model_timings(b.state)
    b.step("validate", [b.tl, "validate"], tweets=n)
    b.step("publish", [b.tl, "publish"], tweets=n)  # silver and gold committed to their Delta tables
    if baseline:
        cmd = [py, "-m", "benchmarks.baseline_pandas", str(b.lake), str(work / "baseline")]
        b.step("baseline_pandas", cmd, tweets=n)
    extra = max(1, n // DAYS)
    if bronze is None:
        b.ingest("ingest_day", extra, 1, END + timedelta(days=1))
    else:
        bronze.link(bronze.extra_day, b.lake)
        if ingests:
            b.steps["ingest_day"] = ingests[1]
    b.step("build_incremental", [b.tl, "build"], tweets=extra)
    incr_timings, _ = dbt_model_timings(b.state)
    b.step("validate_incremental", [b.tl, "validate"], tweets=extra)
    b.step("publish_incremental", [b.tl, "publish"], tweets=extra)
    sent_full = sentiment_seconds(full_timings)
    result = {
        **b.measured(),
        "build_full_batches": full_batches,
        "sentiment_s_in_full_build": round(sent_full, 3),
        "sentiment_tweets_per_s": round(n / sent_full, 1) if sent_full else None,
        "dbt_model_seconds_full": full_timings,
        "dbt_model_seconds_incremental": incr_timings,
        "ratios": ratios(b.steps, sent_full),
    }
    if not keep:
        shutil.rmtree(b.lake, ignore_errors=True)
        shutil.rmtree(b.reads, ignore_errors=True)
        shutil.rmtree(work / "baseline", ignore_errors=True)
    return result


def ratios(steps: dict[str, Measurement], sentiment_s: float) -> dict[str, float]:
    """The ratios the targets are judged by, all from one run."""
    build = steps["build_full"].wall_s
    build_ex = build - sentiment_s
    out = {
        "build_over_floor": round(build / steps["floor"].wall_s, 2),
        "build_excl_sentiment_over_floor": round(build_ex / steps["floor"].wall_s, 2),
        "incremental_over_full": round(steps["build_incremental"].wall_s / build, 3),
        "validation_over_build": round(steps["validate"].wall_s / build, 3),
    }
    if "baseline_pandas" in steps:
        out["baseline_over_build_excl_sentiment"] = round(steps["baseline_pandas"].wall_s / build_ex, 2)
    return out


def commit_of(tree: Path) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def comparison(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Before/after, step by step and ratio by ratio, of two results measured in one run."""
    lines = [
        f"### {after['label']} tweets: before ({before['commit']}) and after ({after['commit']}), one run",
        "",
        "| step | before wall s | after wall s | change | before peak MB | after peak MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, a in after["steps"].items():
        b = before["steps"].get(name)
        if b is None:
            continue
        change = (a["wall_s"] - b["wall_s"]) / b["wall_s"] * 100 if b["wall_s"] else 0.0
        lines.append(
            f"| {name} | {b['wall_s']:.2f} | {a['wall_s']:.2f} | {change:+.1f}% "
            f"| {b['peak_rss_mb']:.0f} | {a['peak_rss_mb']:.0f} |"
        )
    lines += ["", "| ratio | before | after |", "|---|---:|---:|"]
    for key, value in after["ratios"].items():
        lines.append(f"| {key} | {before['ratios'].get(key, '')} | {value} |")
    return "\n".join(lines) + "\n"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"### {result['label']} tweets ({result['days']} days + 1 incremental day)",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}; Python {m['python']}, "
        f"DuckDB {m['duckdb']}.",
        "",
        "| step | wall s | CPU s | peak RSS MB | tweets/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in result["steps"].items():
        tps = f"{s['tweets_per_s']:,.0f}" if s.get("tweets_per_s") else ""
        lines.append(f"| {name} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | {s['peak_rss_mb']:.0f} | {tps} |")
    if result.get("failed"):
        f = result["failed"]
        lines += ["", f"**The {f['step']} step failed (exit {f['returncode']}); the run stopped there.**"]
    if result.get("build_full_batches", 1) > 1:
        lines += [
            "",
            f"The full build ran in {result['build_full_batches']} batches (TWEETLAKE_BUILD_BATCH).",
        ]
    if result["ratios"]:
        lines += ["", "| ratio | value |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in result["ratios"].items()]
    if result.get("sentiment_tweets_per_s"):
        lines.append(f"| sentiment tweets/s (in build) | {result['sentiment_tweets_per_s']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", action="append", help="tweets: 10k, 100k, 1M (repeatable; default 100k and 1M)")
    p.add_argument("--allow-10m", action="store_true", help="allow sizes of 10M and more")
    p.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    p.add_argument("--keep", action="store_true", help="keep the generated lakes in the work folder")
    p.add_argument(
        "--against",
        type=Path,
        help="another checkout (with its .venv) measured first in the same run, for a before/after table",
    )
    p.add_argument(
        "--same-bronze",
        action="store_true",
        help="with --against: both checkouts build this checkout's bronze (the code's cost, not the data's)",
    )
    p.add_argument(
        "--work", type=Path, default=WORK, help=f"scratch folder (default {WORK.relative_to(ROOT)})"
    )
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help=f"where the tables go (default {RESULTS.relative_to(ROOT)})",
    )
    args = p.parse_args(argv)
    sizes = [parse_size(s) for s in (args.size or ["100k", "1M"])]
    if any(s >= 10_000_000 for s in sizes) and not args.allow_10m:
        p.error("10M tweets takes ~25 minutes and ~20 GB of disk: pass --allow-10m")
    if args.same_bronze and not args.against:
        p.error("--same-bronze compares two checkouts on one bronze: pass --against TREE too")
    args.work.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        # The pandas baseline needs ~3.8 GB per million tweets: skip it where it cannot fit in memory.
        baseline = not args.no_baseline and n <= 2_000_000
        try:
            before, bronze, ingests = None, None, None
            if args.against and args.same_bronze:
                bronze, *measured = shared_bronze(n, args.work)
                ingests = (measured[0], measured[1])
            if args.against:
                # the pandas baseline reads bronze only: measured once, with this checkout
                before = bench_size(
                    n,
                    baseline=False,
                    keep=False,
                    work=args.work,
                    tree=args.against.resolve(),
                    bronze=bronze,
                    ingests=ingests,
                )
            result = bench_size(
                n, baseline=baseline, keep=args.keep, work=args.work, bronze=bronze, ingests=ingests
            )
            if bronze is not None and not args.keep:
                shutil.rmtree(bronze.lake, ignore_errors=True)
        except StepFailed as exc:  # keep what was measured, say where it stopped
            write_result(exc.result, args.results)
            print(f"\n{exc}", file=sys.stderr)
            return 1
        write_result(result, args.results)
        if before is not None:
            table = comparison(before, result)
            (args.results / f"{result['label']}-compare.md").write_text(table)
            (args.results / f"{result['label']}-before.json").write_text(json.dumps(before, indent=2) + "\n")
            print("\n" + table)
    return 0


def write_result(result: dict[str, Any], folder: Path) -> None:
    (folder / f"{result['label']}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (folder / f"{result['label']}.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    sys.exit(main())
