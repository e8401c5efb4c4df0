"""``tweetlake``: the command line (click). Every command calls the same functions as the Airflow DAG.

Exit codes: 0 ok, 1 failed, 2 configuration error (a bad flag or value too), 3 quality gate failed,
130 interrupted. Start-up stays light: pandas, dbt, Great Expectations and DuckDB load only inside commands.
"""

from __future__ import annotations

import errno
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import click

from foundation.layout import SOURCES
from foundation.settings import ConfigError, Settings, load_settings
from foundation.times import parse_utc

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_QUALITY = 3
EXIT_INTERRUPTED = 130
INTERRUPTED = "tweetlake: interrupted; rerun the same command: runs are idempotent"

F = TypeVar("F", bound=Callable[..., Any])


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- errors -> exit codes -----------------------------------------------------------------------------------
def _raisable(*names: str) -> tuple[type[BaseException], ...]:
    """The exception classes ``module:Class`` among ``names`` whose module is already imported.

    An exception can only be raised once its module is loaded; importing them up front would load those
    modules (and, for the quality gate, Great Expectations and pandas) for every command, even ``--help``.
    """
    found: list[type[BaseException]] = []
    for name in names:
        module, _, cls = name.partition(":")
        if module in sys.modules:
            found.append(getattr(sys.modules[module], cls))
    return tuple(found)


# Failures a user can act on (the message says what to do): exit 1 with the message, no traceback.
FAILURES = (
    "dbt_runtime.runner:BuildError",
    "foundation.lake:LakeError",
    "foundation.workdir:LakeBusy",
    "pipeline.versions:RollbackRefused",
    "pipeline.query:QueryFailed",
    "ingestion.http:ApiError",  # an API call failed for good (compliance, plan): the message says why
)


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and stderr message for an error a command raised; None for an unexpected one."""
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, f"tweetlake: configuration error: {exc}"
    if isinstance(exc, _raisable("expectations.validate:QualityGateFailed")):
        return EXIT_QUALITY, f"tweetlake: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {exc.filename}" if exc.filename else ""
        return EXIT_FAILED, (
            f"tweetlake: no space left on the device{where}. Free space there (or point TWEETLAKE_LAKE or "
            "TWEETLAKE_WORK_DIR at a bigger disk), then rerun the same command: every lake file is written "
            "aside and moved in whole, so nothing half-written stays, and the rerun carries on."
        )
    from foundation.lakefiles import damage_hint  # here: a light import for every command, --help too

    hint = damage_hint(str(exc))
    if hint:  # validate, table counts: a reader met a damaged file
        return EXIT_FAILED, f"tweetlake: {type(exc).__name__}: {hint}"
    failures = _raisable(*FAILURES)
    if isinstance(exc, (*failures, FileNotFoundError, PermissionError)):
        return EXIT_FAILED, f"tweetlake: {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, INTERRUPTED
    return None


class CommandFailed(Exception):
    """A command's error, mapped to its exit code and stderr message (see :func:`exit_status`)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


class TweetlakeGroup(click.Group):
    """Turns what a command raises into its exit code; ``-v`` lets unexpected errors through (a traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: a bad flag or value of a subcommand (exit 2), --help (0)
        except (Exception, KeyboardInterrupt) as exc:
            status = exit_status(exc)
            if status is None:
                if ctx.params.get("verbose"):
                    raise
                message = f"tweetlake: {type(exc).__name__}: {exc}\n(rerun with -v for the full traceback)"
                status = EXIT_FAILED, message
            raise CommandFailed(*status) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in pipeline order (ingest, build, validate, ...), not alphabetical


class SectionedCommand(click.Command):
    """Lists the source options under their own heading, as the help always did."""

    SOURCE_OPTIONS = frozenset(
        {
            "source",
            "path",
            "tweets",
            "days",
            "end_date",
            "seed",
            "start_time",
            "end_time",
            "conversations",
            "allow_mixed_sources",
        }
    )

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Options": [], "Source": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                sections["Source" if param.name in self.SOURCE_OPTIONS else "Options"].append(record)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


# -- options -------------------------------------------------------------------------------------------------
class IsoDate(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, listed in help in the order given."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


lake_option = click.option(
    "--lake", help="lake root: a folder or s3://bucket/prefix (default: $TWEETLAKE_LAKE or ./lake)"
)
full_refresh_option = click.option(
    "--full-refresh", is_flag=True, help="rebuild incremental models from all bronze"
)
mixed_sources_option = click.option(
    "--allow-mixed-sources",
    is_flag=True,
    help="land generated (sample) tweets in a lake of real ones, or real ones among generated (refused "
    "by default: silver and gold could not tell them apart)",
)
source_options = _options(
    click.option(
        "--source",
        type=click.Choice(SOURCES),
        default="sample",
        help="where tweets come from (default: sample, generated, no credentials needed)",
    ),
    click.option(
        "--path",
        help="replay: a recorded API v2 response (.json), twarc2 archive (.jsonl) or a folder of them",
    ),
    click.option("--tweets", type=int, help="sample: how many tweets to generate (default 3000)"),
    click.option("--days", type=int, help="sample: over how many days (default 3)"),
    click.option(
        "--end-date",
        type=IsoDate(),
        help="sample: last day generated (default yesterday, the last full UTC day)",
    ),
    click.option("--seed", type=int, help="sample: random seed (default 42)"),
    click.option(
        "--drill-volume-drop",
        "drill_drop",
        type=click.FloatRange(0, 1, max_open=True),
        help="sample: cut this share of the first query's last day (a drill: the volume monitor flags it)",
    ),
    click.option("--start-time", help="api: window start, ISO 8601 UTC (e.g. 2026-11-20T00:00:00Z)"),
    click.option("--end-time", help="api: window end, ISO 8601 UTC"),
    click.option(
        "--conversations",
        is_flag=True,
        default=None,
        help="api: also follow the conversations of the tweets landed (recent search, conversation_id: "
        "queries packed up to TWEETLAKE_QUERY_MAX_LENGTH; default TWEETLAKE_CONVERSATIONS)",
    ),
)


def options_of_source(source: str, flags: dict[str, Any]) -> dict[str, Any]:
    """The options ``source`` takes, from the command's flags (the others do not apply to it)."""
    names = {
        "sample": ("tweets", "days", "end_date", "seed", "drill_drop"),
        "replay": ("path",),
        "api": ("start_time", "end_time", "conversations"),
    }[source]
    return {name: flags[name] for name in names}


def _settings(lake: str | None) -> Settings:
    return load_settings().with_overrides(lake=lake)


# -- the commands --------------------------------------------------------------------------------------------
@click.group(
    cls=TweetlakeGroup,
    help="A Twitter/X data lake: API v2 -> bronze -> dbt silver/gold -> quality gate -> publish.",
    epilog="Settings come from the environment: TWEETLAKE_LAKE, TWEETLAKE_S3_ENDPOINT, "
    "TWEETLAKE_QUERIES, TWEETLAKE_ACCOUNTS, TWITTER_BEARER_TOKEN (see README).",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def cli(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@cli.command(
    short_help="what the next API ingest would read and cost (counts first)",
    help="Ask the API's counts endpoint (GET /2/tweets/counts/recent) how many posts each configured query "
    "would read in the next ingest's window (--start-time/--end-time, or since its watermark), and print "
    "the posts, requests and estimated cost at TWEETLAKE_PRICE_PER_POST. Reads no post, writes nothing.",
)
@click.option("--start-time", help="window start, ISO 8601 UTC (default: since each query's watermark)")
@click.option("--end-time", help="window end, ISO 8601 UTC")
@lake_option
def plan(start_time: str | None, end_time: str | None, lake: str | None) -> None:
    from pipeline import steps

    print(steps.run_plan(_settings(lake), start_time=start_time, end_time=end_time).describe())


@cli.command(
    short_help="land posts-per-window counts in bronze (silver.tweet_counts)",
    help="Ask the counts endpoint how many posts each query matched per window (GET "
    "/2/tweets/counts/recent, the last 7 days; --all: GET /2/tweets/counts/all, full-archive access) over "
    "[--since, --until), and land the answers in bronze (endpoint=counts_recent or counts_all). The "
    "build reads them into silver.tweet_counts; the counts_gap monitor compares them with the tweets "
    "collected. Counts read no post; counting a window again replaces its pages.",
)
@click.option(
    "--query", "queries", multiple=True, help="a query to count (repeatable; default TWEETLAKE_QUERIES)"
)
@click.option("--since", required=True, help="start, ISO 8601 UTC date or time (inclusive)")
@click.option("--until", required=True, help="end, ISO 8601 UTC date or time (exclusive)")
@click.option("--all", "archive", is_flag=True, help="full-archive counts (GET /2/tweets/counts/all)")
@click.option(
    "--granularity", type=click.Choice(("minute", "hour", "day")), default="day", help="bucket size (day)"
)
@lake_option
def counts(
    queries: tuple[str, ...], since: str, until: str, archive: bool, granularity: str, lake: str | None
) -> None:
    from pipeline import steps

    summary = steps.run_counts(
        _settings(lake), since, until, queries=queries, archive=archive, granularity=granularity, progress=say
    )
    print(f"counted {len(summary.runs)} query(ies) in {summary.pages:,} page(s), landed in bronze")


@cli.command(
    short_help="full-archive backfill of a query, in windows, resumable",
    help="Ingest [--since, --until) through full-archive search (GET /2/tweets/search/all; Pro or Enterprise "
    "access) in windows (a day by default), oldest first. Complete windows are recorded in "
    "<lake>/_state/coverage/ and skipped by a rerun, which carries on after a crash or a budget stop "
    "(TWEETLAKE_MAX_POSTS_PER_RUN counts the whole backfill).",
)
@click.option(
    "--query", "queries", multiple=True, help="a query to backfill (repeatable; default TWEETLAKE_QUERIES)"
)
@click.option("--since", required=True, help="start, ISO 8601 UTC date or time (inclusive)")
@click.option("--until", required=True, help="end, ISO 8601 UTC date or time (exclusive)")
@click.option("--window-hours", type=float, default=24.0, help="hours per window (default 24)")
@lake_option
def backfill(queries: tuple[str, ...], since: str, until: str, window_hours: float, lake: str | None) -> None:
    from datetime import timedelta

    from pipeline import steps

    window = timedelta(hours=window_hours)
    for summary in steps.run_backfill(
        _settings(lake), since, until, queries=queries, window=window, progress=say
    ):
        print(summary.describe())


@cli.command(
    cls=SectionedCommand,
    short_help="pull tweets into the bronze layer",
    help="Land raw API v2 response pages in <lake>/bronze.",
)
@source_options
@mixed_sources_option
@lake_option
def ingest(source: str, allow_mixed_sources: bool, lake: str | None, **flags: Any) -> None:
    from pipeline import steps

    summary = steps.run_ingest(
        _settings(lake),
        source,
        progress=say,
        allow_mixed_sources=allow_mixed_sources,
        **options_of_source(source, flags),
    )
    print(summary.describe())
    for problem in summary.problems:
        print(f"  skipped: {problem}")


@cli.command(
    short_help="build silver and gold with dbt",
    help="dbt build: silver tables in <lake>/silver, gold staged for validation. Only bronze files not "
    "processed yet are read; a backlog larger than TWEETLAKE_BUILD_BATCH (default 2GB) is built in batches, "
    "oldest ingest dates first, gold once at the end.",
)
@click.option("--select", help="dbt selection, e.g. tag:silver")
@full_refresh_option
@lake_option
def build(select: str | None, full_refresh: bool, lake: str | None) -> None:
    from pipeline import steps

    summary = steps.run_build(_settings(lake), select=select, full_refresh=full_refresh, progress=say)
    print(summary.describe())


@cli.command(
    short_help="run the quality suites (the gate before publish)",
    help="Great Expectations on silver and staged gold; results in <lake>/quality.",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Choice(("silver", "gold")),
    help="validate only this layer (repeatable; default both)",
)
@click.option(
    "--as-of",
    help="judge freshness and 'not in the future' at this ISO 8601 time, or `now` (default: "
    "TWEETLAKE_QUALITY_AS_OF, else the newest fetch in bronze)",
)
@click.option(
    "--max-age-hours",
    type=float,
    help="freshness: the newest tweet may be at most this old (default TWEETLAKE_QUALITY_MAX_AGE_HOURS, 48)",
)
@lake_option
def validate(
    layers: tuple[str, ...], as_of: str | None, max_age_hours: float | None, lake: str | None
) -> None:
    from pipeline import steps

    try:
        when = parse_utc(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
    report = steps.run_validate(
        _settings(lake),
        layers=layers or ("silver", "gold"),
        progress=say,
        as_of=when,
        max_age_hours=max_age_hours,
    )
    print(report.describe())
    print(f"report: {report.index_path}")


@cli.command(
    short_help="promote validated silver and gold to <lake>/",
    help="Publish validated staged silver and gold: a new version of each Delta table in "
    "<lake>/silver/<table>/ that changed (only its changed partitions) and in <lake>/gold/<table>/, and "
    "gold's rows as Parquet and CSV. Refused when the gate did not pass exactly what is staged.",
)
@lake_option
def publish(lake: str | None) -> None:
    from pipeline import steps

    print(steps.run_publish(_settings(lake)).describe())


@cli.command(
    short_help="list the lake's versions (every publish and rollback)",
    help="Every publish is a Delta version of each gold table (<lake>/gold/<table>/) and of each silver "
    "table that changed (<lake>/silver/<table>/): list them, newest first, with their run ids and the gate "
    "run that passed them.",
)
@lake_option
def history(lake: str | None) -> int:
    from pipeline import steps

    versions = steps.run_history(_settings(lake))
    if not versions:
        say("no gold versions yet: run `tweetlake refresh` (or validate, then publish)")
        return EXIT_FAILED
    for version in versions:
        print(version.describe())
    return EXIT_OK


@cli.command(
    short_help="restore silver and gold to what an earlier run published",
    help="Restore every gold table to the version a run published (a run id, or a gold version number, "
    "from `tweetlake history`) and every silver table to its version as of that run, as new versions, and "
    "re-export gold/<table>.parquet and .csv from it. --layer restores one layer only.",
)
@click.option("--to", "to", required=True, help="a run id or version number from `tweetlake history`")
@click.option("--layer", type=click.Choice(("silver", "gold")), help="only this layer (default: both)")
@lake_option
def rollback(to: str, layer: str | None, lake: str | None) -> None:
    from pipeline import steps

    layers = (layer,) if layer else ("silver", "gold")
    print(steps.run_rollback(_settings(lake), to, layers=layers).describe())


@cli.command(
    short_help="compact and vacuum the lake's Delta tables",
    help="Compact small files, checkpoint the log and vacuum files no version within the retention needs "
    "(default 168 h: time travel and rollback reach that far back; a reader inside it is never broken).",
)
@click.option(
    "--retention-hours",
    type=click.FloatRange(min=0),
    help="keep every file a version of the last N hours needs (default 168)",
)
@lake_option
def maintain(retention_hours: float | None, lake: str | None) -> None:
    from pipeline import steps

    print(steps.run_maintain(_settings(lake), retention_hours=retention_hours).describe())


@cli.command(
    short_help="SQL over the lake's tables (DuckDB)",
    help="Run a DuckDB query over the lake: silver.<table> and gold.<table> (each Delta table's current "
    "snapshot, or --as-of a gold version, a run id or a time). --tables lists them.",
)
@click.argument("query", required=False)
@click.option(
    "--as-of", help="the lake as of a gold version number, a run id or an ISO 8601 time (`tweetlake history`)"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    help="output: a table (default), CSV or JSON lines",
)
@click.option("--tables", "list_tables", is_flag=True, help="list the tables a query can read")
@lake_option
def sql(query: str | None, as_of: str | None, fmt: str, list_tables: bool, lake: str | None) -> int:
    from foundation.lake import Lake
    from pipeline.query import run_sql

    store = Lake.from_settings(_settings(lake))
    if list_tables:
        views = run_sql(store, "select 1", as_of=as_of).views
        print("\n".join(views) if views else "no tables yet: run `tweetlake refresh`")
        return EXIT_OK
    if not query:
        say('give a query (tweetlake sql "select count(*) from silver.tweets"), or --tables to list them')
        return EXIT_CONFIG
    result = run_sql(store, query, as_of=as_of)
    print_rows(result.columns, result.rows, fmt)
    return EXIT_OK


def print_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    """Rows to stdout: a rich table for people, CSV or JSON lines for pipes."""
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        import json

        for row in rows:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(soft_wrap=True).print(table)
        print(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})")


@cli.command(
    cls=SectionedCommand,
    short_help="ingest, build, validate and publish, in order",
    help="A full lake refresh; stops at the first failure with a non-zero exit.",
)
@source_options
@mixed_sources_option
@full_refresh_option
@lake_option
def refresh(
    source: str, allow_mixed_sources: bool, full_refresh: bool, lake: str | None, **flags: Any
) -> None:
    from pipeline import steps

    settings = _settings(lake)
    summary = steps.refresh(
        settings,
        source=source,
        source_options=options_of_source(source, flags),
        full_refresh=full_refresh,
        progress=say,
        allow_mixed_sources=allow_mixed_sources,
    )
    print(f"\nlake refreshed: {settings.lake}")
    width = max((len(t) for t in summary.tables), default=10)
    for table, rows in summary.tables.items():
        print(f"  {table:<{width}}  {rows:>10,} rows")
    if summary.validation is not None:  # always set once refresh returns; None only while it runs
        print(f"quality report: {summary.validation.index_path}")
    if summary.publish is not None and summary.publish.report:
        print(f"lake report:    {summary.publish.report}")


@cli.command(
    short_help="share the lake dehydrated: tweet ids and a manifest",
    help="Write the lake's collected tweets as DIR/tweet_ids.txt (one id a line: what the developer terms "
    "let you share; twarc reads it) and DIR/manifest.json (streams, their windows and counts, gold's "
    "versions).",
)
@click.option("--ids", "ids_dir", required=True, type=click.Path(file_okay=False), help="the folder to write")
@lake_option
def export(ids_dir: str, lake: str | None) -> None:
    from pathlib import Path

    from pipeline.sharing import export_ids

    done = export_ids(_settings(lake), Path(ids_dir))
    print(f"exported {done.tweets:,} tweet ids: {done.ids_path} (manifest: {done.manifest_path})")


@cli.command(
    short_help="look a dehydrated file's ids up again, into bronze",
    help="Fetch the tweets of FILE (one id a line) through tweet lookup (GET /2/tweets, 100 a request) into "
    "<lake>/bronze (endpoint=tweets_lookup), and list the ids that are gone in FILE's folder "
    "(<name>.gone.txt). Budgets (TWEETLAKE_MAX_POSTS_PER_RUN) hold as for an ingest.",
)
@click.argument("ids_file", type=click.Path(dir_okay=False))
@lake_option
def rehydrate(ids_file: str, lake: str | None) -> None:
    from pathlib import Path

    from pipeline import sharing

    print(sharing.rehydrate(_settings(lake), Path(ids_file)).describe())


@cli.command(
    short_help="remove deleted, protected and suspended posts everywhere",
    help="Check the lake's post and user ids with batch compliance jobs (POST /2/compliance/jobs: create, "
    "upload the ids, poll, download), record the results (silver.compliance_events), redact them from bronze "
    "(each affected object rewritten, all else byte-identical), rebuild silver and gold through the quality "
    "gate and publish, drop them from the quality reports and vacuum gold's older versions. A job still "
    "running when the command stops is carried on by the next run.",
)
@click.option(
    "--type",
    "types",
    type=click.Choice(["tweets", "users"]),
    multiple=True,
    help="check only these ids (repeatable; default both)",
)
@click.option(
    "--keep-history",
    is_flag=True,
    help="keep gold's older Delta versions (they still hold what was removed: purge them yourself)",
)
@lake_option
def compliance(types: tuple[str, ...], keep_history: bool, lake: str | None) -> None:
    from pipeline import steps

    summary = steps.run_compliance(
        _settings(lake), types=types or None, keep_history=keep_history, progress=say
    )
    print(summary.describe())


@cli.command(
    short_help="where the reports are (or serve them)",
    help="Print the paths of the data-quality report (<lake>/quality/index.html: monitors, failures traced "
    "to bronze, charts over runs, every run linked to the Great Expectations pages) and of the lake report "
    "(<lake>/report/index.html: the published gold as charts); --serve serves both on 127.0.0.1.",
)
@click.option("--serve", is_flag=True, help="serve both reports on http://127.0.0.1:<port>/")
@click.option("--port", type=int, default=8000, help="port for --serve (default 8000; 0: any free)")
@lake_option
def report(serve: bool, port: int, lake: str | None) -> int:
    from expectations.report import INDEX
    from expectations.report import serve as serve_report
    from foundation.lake import Lake
    from foundation.layout import REPORT_INDEX

    store = Lake.from_settings(_settings(lake))
    path = store.url(INDEX)
    if not store.exists(INDEX):
        say(f"no report yet at {path}: run `tweetlake validate` or `tweetlake refresh` first")
        return EXIT_FAILED
    print(path, flush=True)
    if store.exists(REPORT_INDEX):
        print(store.url(REPORT_INDEX), flush=True)
    else:
        say(f"no lake report yet at {store.url(REPORT_INDEX)}: `tweetlake publish` writes it")
    if serve:
        serve_report(store, port, say=say)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (the console script exits with it).

    The environment's secrets (token, AWS keys) are registered first, so no log record, error message or
    ``-v`` traceback this process prints can show them (:mod:`foundation.secrets`)."""
    from foundation import secrets

    secrets.register_env()
    try:
        code = cli.main(args=argv, prog_name="tweetlake", standalone_mode=False)
    except CommandFailed as exc:
        say(secrets.redact(exc.message))
        return exc.exit_code
    except click.ClickException as exc:  # a bad flag or value: usage and the error on stderr, exit 2
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C while click was still parsing
        say(INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as exc:  # -v: the error goes through with its traceback (for a debugger, too) ...
        told = "".join(traceback.format_exception(exc))
        if not secrets.contains_secret(told):
            raise
        say(secrets.redact(told).rstrip("\n"))  # ... unless it would print a secret: then redacted
        return EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
