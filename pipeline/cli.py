"""``tweetlake``: the command line. Every command calls the same functions as the Airflow DAG."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from foundation.layout import SOURCES
from foundation.settings import ConfigError, Settings, load_settings

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_QUALITY = 3


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake", help="lake root: a folder or s3://bucket/prefix (default: $TWEETLAKE_LAKE or ./lake)"
    )


def _source_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("source")
    g.add_argument(
        "--source",
        choices=SOURCES,
        default="sample",
        help="where tweets come from (default: sample, generated, no credentials needed)",
    )
    g.add_argument(
        "--path",
        help="replay: a recorded API v2 response (.json), twarc2 archive (.jsonl) or a folder of them",
    )
    g.add_argument("--tweets", type=int, help="sample: how many tweets to generate (default 3000)")
    g.add_argument("--days", type=int, help="sample: over how many days (default 3)")
    g.add_argument(
        "--end-date", type=_date, help="sample: last day generated (default yesterday, the last full UTC day)"
    )
    g.add_argument("--seed", type=int, help="sample: random seed (default 42)")
    g.add_argument("--start-time", help="api: window start, ISO 8601 UTC (e.g. 2026-11-20T00:00:00Z)")
    g.add_argument("--end-time", help="api: window end, ISO 8601 UTC")


def source_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.source == "sample":
        return {"tweets": args.tweets, "days": args.days, "end_date": args.end_date, "seed": args.seed}
    if args.source == "replay":
        return {"path": args.path}
    return {"start_time": args.start_time, "end_time": args.end_time}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tweetlake",
        description="A Twitter/X data lake: API v2 -> bronze -> dbt silver/gold -> quality gate -> publish.",
        epilog="Settings come from the environment: TWEETLAKE_LAKE, TWEETLAKE_S3_ENDPOINT, "
        "TWEETLAKE_QUERIES, TWEETLAKE_ACCOUNTS, TWITTER_BEARER_TOKEN (see README).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser(
        "ingest",
        help="pull tweets into the bronze layer",
        description="Land raw API v2 response pages in <lake>/bronze.",
    )
    _source_options(ing)
    _lake_option(ing)

    b = sub.add_parser(
        "build",
        help="build silver and gold with dbt",
        description="dbt build: silver tables in <lake>/silver, gold staged for validation. Only bronze "
        "files not processed yet are read; a backlog larger than TWEETLAKE_BUILD_BATCH (default 2GB) is "
        "built in batches, oldest ingest dates first, gold once at the end.",
    )
    b.add_argument("--select", help="dbt selection, e.g. tag:silver")
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from all bronze")
    _lake_option(b)

    v = sub.add_parser(
        "validate",
        help="run the quality suites (the gate before publish)",
        description="Great Expectations on silver and staged gold; results in <lake>/quality.",
    )
    v.add_argument(
        "--layer",
        action="append",
        choices=("silver", "gold"),
        help="validate only this layer (repeatable; default both)",
    )
    _lake_option(v)

    pub = sub.add_parser(
        "publish",
        help="promote validated gold to <lake>/gold",
        description="Publish staged gold tables as Parquet and CSV. Run after validate passes.",
    )
    _lake_option(pub)

    r = sub.add_parser(
        "refresh",
        help="ingest, build, validate and publish, in order",
        description="A full lake refresh; stops at the first failure with a non-zero exit.",
    )
    _source_options(r)
    r.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from all bronze")
    _lake_option(r)

    rep = sub.add_parser(
        "report",
        help="where the data-quality report is (or serve it)",
        description="Print the path of the data-quality report (<lake>/quality/index.html: every run, "
        "linked to the Great Expectations pages); --serve serves it on 127.0.0.1.",
    )
    rep.add_argument("--serve", action="store_true", help="serve the report on http://127.0.0.1:<port>/")
    rep.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0: any free)")
    _lake_option(rep)
    return p


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings().with_overrides(lake=getattr(args, "lake", None))


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from pipeline import steps as pipeline

    settings = _settings(args)
    if args.command == "ingest":
        summary = pipeline.run_ingest(settings, args.source, progress=say, **source_options(args))
        print(summary.describe())
        for problem in summary.problems:
            print(f"  skipped: {problem}")
    elif args.command == "build":
        print(
            pipeline.run_build(
                settings, select=args.select, full_refresh=args.full_refresh, progress=say
            ).describe()
        )
    elif args.command == "validate":
        layers = tuple(args.layer) if args.layer else ("silver", "gold")
        report = pipeline.run_validate(settings, layers=layers, progress=say)
        print(report.describe())
        print(f"report: {report.index_path}")
    elif args.command == "publish":
        print(pipeline.run_publish(settings).describe())
    elif args.command == "refresh":
        summary = pipeline.refresh(
            settings,
            source=args.source,
            source_options=source_options(args),
            full_refresh=args.full_refresh,
            progress=say,
        )
        print(f"\nlake refreshed: {settings.lake}")
        width = max((len(t) for t in summary.tables), default=10)
        for table, rows in summary.tables.items():
            print(f"  {table:<{width}}  {rows:>10,} rows")
        print(f"quality report: {summary.validation.index_path}")
    elif args.command == "report":
        from expectations.report import INDEX, serve
        from foundation.lake import Lake

        lake = Lake.from_settings(settings)
        path = lake.url(INDEX)
        if not lake.exists(INDEX):
            say(f"no report yet at {path}: run `tweetlake validate` or `tweetlake refresh` first")
            return EXIT_FAILED
        print(path, flush=True)
        if args.serve:
            serve(lake, args.port, say=say)
    return 0


def _quality_gate_failed() -> tuple[type[Exception], ...]:
    """``QualityGateFailed`` once ``expectations.validate`` is imported (only then can it be raised).

    Not imported up front: it imports pandas, a second or more of start-up for every command.
    """
    module = sys.modules.get("expectations.validate")
    return (module.QualityGateFailed,) if module is not None else ()


def main(argv: Sequence[str] | None = None) -> int:
    from dbt_runtime.runner import BuildError
    from foundation.lake import LakeError
    from foundation.workdir import LakeBusy

    try:
        return run(argv)
    except ConfigError as exc:
        say(f"tweetlake: configuration error: {exc}")
        return EXIT_CONFIG
    except _quality_gate_failed() as exc:
        say(f"tweetlake: {exc}")
        return EXIT_QUALITY
    except (BuildError, LakeError, LakeBusy, FileNotFoundError, PermissionError) as exc:
        say(f"tweetlake: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        say("tweetlake: interrupted; rerun the same command: runs are idempotent")
        return 130
    except Exception as exc:  # the last resort: say what failed, never a bare traceback for users
        if "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv):
            raise
        say(f"tweetlake: {type(exc).__name__}: {exc}\n(rerun with -v for the full traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
