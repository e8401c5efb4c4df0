"""What the refresh DAG's tasks do, as plain functions of the run's params and data interval.

The DAG file only wires these together. Each step calls :mod:`pipeline.steps` (the same code as the
``tweetlake`` CLI) and turns failures into the right Airflow outcome:

- a quality failure (Great Expectations gate, a failing dbt test) or a configuration error (no token)
  raises ``AirflowFailException``: retrying cannot help, so it fails at once;
- anything else (network, rate limits, S3) raises as is, and the task's retries apply.

Heavy imports (dbt, DuckDB, Great Expectations) happen inside the functions, never at DAG parse time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable
from airflow.sdk.exceptions import AirflowFailException

from foundation.lake import Lake
from foundation.layout import PUBLISHED, REPORT_INDEX, SOURCES
from foundation.settings import ConfigError, Settings
from orchestration.settings import airflow_settings

log = logging.getLogger("tweetlake.airflow")

POOL = os.environ.get("TWEETLAKE_POOL", "tweetlake_lake")
REFUSED = ("400 ", "401 ", "403 ")  # how the API source's messages for a refused request start
DEFAULT_SCHEDULE = "@hourly"


# -- parse-time configuration (environment only: no DB access at import) ------------------------------------
def schedule_from_env(env: Mapping[str, str] | None = None) -> CronDataIntervalTimetable | None:
    """``TWEETLAKE_SCHEDULE``: a cron expression or preset (default ``@hourly``); ``none`` for manual only.

    A *data interval* timetable (UTC): each run covers ``[previous tick, tick)`` and starts at its end. (A
    bare cron string would give Airflow 3's ``CronTriggerTimetable``, whose runs have no interval to ingest.)
    """
    env = os.environ if env is None else env
    raw = (env.get("TWEETLAKE_SCHEDULE") or DEFAULT_SCHEDULE).strip()
    if raw.lower() in ("none", "manual", "off"):
        return None
    return CronDataIntervalTimetable(raw, timezone="UTC")


def retry_delay_from_env(env: Mapping[str, str] | None = None) -> timedelta:
    """``TWEETLAKE_RETRY_DELAY_SECONDS``: the wait before the build, validate and publish tasks' retry
    (default 120 s: long enough for a passing S3 or lease hiccup to clear)."""
    env = os.environ if env is None else env
    raw = (env.get("TWEETLAKE_RETRY_DELAY_SECONDS") or "").strip()
    try:
        seconds = float(raw) if raw else 120.0
    except ValueError:
        raise ConfigError(f"TWEETLAKE_RETRY_DELAY_SECONDS={raw!r}: expected a number of seconds") from None
    return timedelta(seconds=max(0.0, seconds))


def default_source(env: Mapping[str, str] | None = None) -> str | None:
    """``TWEETLAKE_SOURCE``: the source of scheduled runs (``api``, or ``sample`` for a demo); None unset.

    No default: a deployment that forgot the setting must not fill its lake with generated tweets every
    hour (the sample source needs no credentials, so it would "work"). Its runs fail at once instead,
    saying what to set (:func:`run_source`)."""
    env = os.environ if env is None else env
    source = (env.get("TWEETLAKE_SOURCE") or "").strip()
    if not source:
        return None
    if source not in SOURCES:
        raise ConfigError(f"TWEETLAKE_SOURCE={source!r}: choose one of {', '.join(SOURCES)}")
    return source


NO_SOURCE = (
    "no source chosen: set TWEETLAKE_SOURCE=api in the Airflow environment (tweets from the API, token in "
    "the connection twitter_default), or trigger the run with the param source (api, replay, or sample for "
    "generated demo tweets). The DAG never falls back to generated tweets on its own"
)


def run_source(params: Mapping[str, Any]) -> str:
    """The run's source (its ``source`` param, which defaults to ``TWEETLAKE_SOURCE``); a run with none
    fails at once (no retry can help) with what to set."""
    source = params.get("source")
    if not source:
        raise AirflowFailException(NO_SOURCE)
    if source not in SOURCES:
        raise AirflowFailException(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    return str(source)


# -- the run's inputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """The run's data interval; ``start``/``end`` are None for a run without one (a manual run of an
    unscheduled DAG, or one without a logical date). ``run_after``: the logical date, else when it was due."""

    start: datetime | None
    end: datetime | None
    run_after: datetime

    @classmethod
    def from_context(
        cls,
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
        dag_run: Any = None,
    ) -> Interval:
        run_after = getattr(dag_run, "logical_date", None) or getattr(dag_run, "run_after", None)
        start, end = _utc(data_interval_start), _utc(data_interval_end)
        if start is not None and start == end:  # a point in time (a manual run of an unscheduled DAG)
            start = end = None
        return cls(start, end, _utc(run_after) or datetime.now(UTC))

    @property
    def day(self) -> date:
        """The day the interval covers (its start's date): the sample source's ``end_date``."""
        return (self.start or self.run_after).date()

    def describe(self) -> str:
        if self.start and self.end:
            return f"{self.start.isoformat()} .. {self.end.isoformat()}"
        return f"no data interval (manual run after {self.run_after.isoformat()})"


def _utc(value: datetime | None) -> datetime | None:
    """A plain UTC ``datetime`` (Airflow hands out pendulum ones), or None."""
    return None if value is None else datetime.fromtimestamp(value.timestamp(), UTC)


def effective_settings(params: Mapping[str, Any]) -> Settings:
    """The task's settings with the run's ``queries``/``accounts`` params applied (None: as configured)."""
    settings = airflow_settings(str(params.get("source") or ""))  # the token only for source api
    queries = params.get("queries")
    accounts = params.get("accounts")
    return settings.with_overrides(
        queries=tuple(q.strip() for q in queries if q.strip()) if queries is not None else None,
        accounts=tuple(a.strip().lstrip("@") for a in accounts if a.strip())
        if accounts is not None
        else None,
    )


def safe_run_id(run_id: str | None, suffix: str = "") -> str | None:
    """An Airflow run id usable in a file name (``quality/runs/<id>.json``): no ``:`` or ``+``."""
    if not run_id:
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "" for c in run_id.replace("+00:00", "Z"))
    return f"{safe}-{suffix}" if suffix else safe


# -- ingest -------------------------------------------------------------------------------------------------
def plan_streams(params: Mapping[str, Any]) -> list[dict[str, str]]:
    """One item per ingest task: every query and every account (timeline + mentions); replay: the path."""
    source = run_source(params)
    if source == "replay":
        path = params.get("replay_path")
        if not path:
            raise AirflowFailException("source 'replay' needs the param replay_path (a file or folder)")
        return [{"kind": "replay", "name": str(path)}]
    try:
        settings = effective_settings(params)
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from None
    streams = [{"kind": "query", "name": q} for q in settings.queries]
    streams += [{"kind": "account", "name": a} for a in settings.accounts]
    if not streams:
        raise AirflowFailException("nothing to ingest: no queries and no accounts configured or given")
    return streams


def stream_label(stream: Mapping[str, str]) -> str:
    prefix = {"query": "q", "account": "@", "replay": "replay "}.get(stream["kind"], "")
    return f"{prefix}{stream['name']}" if prefix != "q" else f"q: {stream['name']}"


def source_options(
    params: Mapping[str, Any], interval: Interval, now: datetime | None = None
) -> dict[str, Any]:
    """The source's options for this run; the data interval drives the window (see the DAG's docs).

    An interval that starts before recent search's 7 days (a backfill, a catchup, a run retried a week late)
    is read through full-archive search (``archive``: ``/2/tweets/search/all``, Pro or Enterprise access);
    without that access its ingest fails with the API's 403, explained (what access it needs, and that
    recent search cannot reach the interval)."""
    from ingestion.sources.api import SEARCH_HORIZON  # here: the DAG file's parse stays light

    source = run_source(params)
    if source == "api":
        if not (interval.start and interval.end):
            return {}  # a manual run without an interval: incremental from the since_id watermarks
        window: dict[str, Any] = {"start_time": interval.start, "end_time": interval.end}
        # a minute's margin: the request leaves a few seconds after this decision
        if interval.start < (now or datetime.now(UTC)) - SEARCH_HORIZON + timedelta(minutes=1):
            log.info(
                "the interval %s starts more than 7 days ago, beyond recent search: its queries are read "
                "with full-archive search (GET /2/tweets/search/all; needs Pro or Enterprise access)",
                interval.describe(),
            )
            window["archive"] = True
        return window
    if source == "sample":
        return {
            "tweets": params.get("sample_tweets"),
            "days": params.get("sample_days"),
            "seed": params.get("sample_seed"),
            "end_date": interval.day,
        }
    if source == "replay":
        return {"path": params.get("replay_path"), "ingest_date": interval.day}
    raise AirflowFailException(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")


# the endpoints whose streams are queries: searches (recent, all, the filtered stream) and counts
QUERY_ENDPOINTS = ("search", "counts_")


class OnlyStream:
    """A source restricted to the pulls of one query or account (the other pulls are never fetched)."""

    def __init__(self, source: Any, stream: Mapping[str, str]) -> None:
        self.source = source
        self.name = source.name
        self.kind = stream["kind"]
        self.stream = stream["name"]
        self.matched = 0

    @property
    def problems(self) -> list[Any]:
        return getattr(self.source, "problems", [])

    def wanted(self, pull: Any) -> bool:
        of_query = pull.endpoint.startswith(QUERY_ENDPOINTS)
        if self.kind == "query":
            return of_query and pull.stream == self.stream
        return not of_query and pull.stream.lstrip("@") == self.stream

    def pulls(self, watermarks: Any = None) -> Iterator[Any]:
        for pull in self.source.pulls(watermarks):
            if self.wanted(pull):
                self.matched += 1
                yield pull


def ingest_stream(stream: Mapping[str, str], params: Mapping[str, Any], interval: Interval) -> dict[str, Any]:
    """Ingest one stream of the run into bronze; return a small summary (the task's XCom)."""
    from foundation.lake import LakeError
    from ingestion.http import ApiError
    from ingestion.sources import make_source
    from pipeline.steps import ingest_pulls

    source = run_source(params)
    options = source_options(params, interval)
    log.info("ingest %s from %s for %s", stream_label(stream), source, interval.describe())
    try:
        settings = effective_settings(params)
        if stream["kind"] == "replay":
            pulls = make_source("replay", settings, **options)
        elif source == "sample":
            # The whole sample (as `tweetlake refresh` generates it), restricted to this stream: the union of
            # the mapped tasks is the CLI's bronze for the same day, seed and size, page for page.
            pulls = OnlyStream(make_source("sample", settings, **options), stream)
        else:
            if stream["kind"] == "query":
                scoped = settings.with_overrides(queries=(stream["name"],), accounts=())
            else:
                scoped = settings.with_overrides(queries=(), accounts=(stream["name"],))
            pulls = make_source(source, scoped, **options)
        summary = ingest_pulls(
            settings,
            pulls,
            progress=log.info,
            allow_mixed_sources=bool(params.get("allow_mixed_sources")),
            force_hint="the run param allow_mixed_sources=true",
        )
    except (ConfigError, LakeError) as exc:
        raise AirflowFailException(str(exc)) from None
    except ApiError as exc:
        # the API refused the request itself (no access to full-archive search, a bad token, an invalid
        # query): a retry is refused the same, so the task fails at once; transient failures retry
        if str(exc).startswith(REFUSED):
            raise AirflowFailException(str(exc)) from None
        raise
    if isinstance(pulls, OnlyStream) and not pulls.matched:
        raise AirflowFailException(
            f"the {source} source has no stream {stream_label(stream)}: check TWEETLAKE_QUERIES/ACCOUNTS"
        )
    log.info("%s", summary.describe())
    return {
        "stream": stream_label(stream),
        "source": source,
        "pages": summary.pages,
        "tweets": summary.tweets,
        "partial_errors": summary.partial_errors,
        "objects": sum(len(r.objects) for r in summary.runs),
        "problems": summary.problems[:20],
    }


# -- build, validate, publish -------------------------------------------------------------------------------
def build_layer(layer: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``dbt build --select tag:<layer>``; a failing dbt test is a quality failure (no retry)."""
    from dbt_runtime.runner import BuildError
    from pipeline.steps import run_build

    settings = effective_settings(params)
    try:
        summary = run_build(
            settings,
            select=f"tag:{layer}",
            full_refresh=bool(params.get("full_refresh")),
            progress=log.info,
        )
    except BuildError as exc:
        if "Failure in test" in str(exc):
            raise AirflowFailException(f"a dbt test failed in {layer}, nothing published:\n{exc}") from None
        raise
    log.info("%s", summary.describe())
    return {"layer": layer, "passed": summary.passed, "errored": summary.errored, "seconds": summary.seconds}


def quality_run_at(interval: Interval) -> datetime:
    """When an Airflow run judges freshness: its data interval's end (for a scheduled run, when it started:
    "now" that stays the same for the interval's retries and reruns), or now for a run without one.

    Not bronze's newest fetch (the CLI's default): a lake whose ingest quietly stopped would never go stale.
    The gate takes the later of this and the newest fetch (:meth:`expectations.run.Run.reference_time`), so
    a backfill of an old interval on a lake holding newer tweets is not judged in its past; and
    ``TWEETLAKE_QUALITY_AS_OF`` still wins when set."""
    return interval.end or datetime.now(UTC)


def validate_layer(
    layer: str, params: Mapping[str, Any], run_id: str | None, interval: Interval | None = None
) -> dict[str, Any]:
    """Great Expectations on ``layer``; a failed gate fails the task at once (it is not transient)."""
    from expectations.validate import QualityGateFailed
    from pipeline.steps import run_validate

    settings = effective_settings(params)
    run_at = quality_run_at(interval) if interval is not None else None
    try:
        report = run_validate(
            settings, run_id=safe_run_id(run_id, layer), layers=(layer,), progress=log.info, run_at=run_at
        )
    except QualityGateFailed as exc:
        raise AirflowFailException(str(exc)) from None
    log.info("%s", report.describe())
    docs = getattr(report, "index_path", None) or report.docs_path
    return {"layer": layer, "results": report.results_path, "docs": docs}


def publish_gold(params: Mapping[str, Any], run_id: str | None) -> dict[str, int]:
    from pipeline.steps import run_publish

    summary = run_publish(effective_settings(params), run_id=safe_run_id(run_id))
    log.info("%s", summary.describe())
    return dict(summary.tables)


def maintain_lake() -> dict[str, Any]:
    """The weekly maintenance: compact, checkpoint and vacuum the lake's Delta tables."""
    from pipeline.steps import run_maintain

    summary = run_maintain(effective_settings({}))
    log.info("%s", summary.describe())
    return {t: vars(m) for t, m in summary.tables.items()}


def compliance_lake() -> dict[str, Any]:
    """The weekly compliance run: batch compliance jobs for the lake's ids, and their removal everywhere."""
    from pipeline.steps import run_compliance

    summary = run_compliance(airflow_settings("api"), progress=log.info)
    log.info("%s", summary.describe())
    return {
        "jobs": {j.kind: {"job_id": j.job_id, "ids": j.ids, "events": j.events} for j in summary.jobs},
        "posts_removed": len(summary.events.tweets),
        "users_removed": len(summary.events.users),
        "bronze_objects_rewritten": summary.redaction.files_rewritten,
        "rebuilt": summary.rebuilt,
    }


def report(
    ingested: list[dict[str, Any]] | Any,
    published: Mapping[str, int],
    validated: Mapping[str, Any],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The run's summary: tweets per stream, rows per table, where the quality report is."""
    from pipeline.steps import table_counts

    settings = effective_settings(params)
    # The mapped ingest results: index them (iterating probes one past the end, which logs a 404).
    ingested = [ingested[i] for i in range(len(ingested))] if ingested is not None else []
    counts = table_counts(settings)
    lake_report = Lake.from_settings(settings).url(REPORT_INDEX)
    lines = [f"tweetlake refresh of {settings.lake}:"]
    lines += [f"  ingest {i['stream']}: {i['tweets']:,} tweets in {i['pages']:,} pages" for i in ingested]
    lines += [f"  {table}: {rows:,} rows" for table, rows in sorted(counts.items())]
    lines.append(f"  quality report: {validated.get('docs')}")
    lines.append(f"  lake report: {lake_report}")
    log.info("%s", "\n".join(lines))
    return {
        "lake": settings.lake,
        "tweets_ingested": sum(i["tweets"] for i in ingested),
        "tables": counts,
        "published": dict(published),
        "quality_report": validated.get("docs"),
        "lake_report": lake_report,
    }


def describe_gold_update(triggering_asset_events: Any = None) -> dict[str, Any]:
    """For consumers of the gold asset: what the triggering publish reported and what the lake holds now."""
    from foundation.lake import Lake

    events = []
    for asset, asset_events in dict(triggering_asset_events or {}).items():
        for event in asset_events:
            extra = dict(getattr(event, "extra", None) or {})
            events.append({"asset": getattr(asset, "uri", str(asset)), **extra})
            log.info("gold published by run %s: %s", extra.get("run_id"), extra.get("tables"))
    published = Lake.from_settings(airflow_settings("sample")).read_json(PUBLISHED, default={})
    log.info("gold in the lake now: %s", published)
    return {"events": events, "published": published or {}}
