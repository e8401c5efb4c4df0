"""The lake report, ``<lake>/report/index.html``: the published gold as charts, for people reading the lake.

One page, written by :func:`write_lake_report` after a publish (or by hand): tweets and engagement per day
and stream, the top hashtags over time, sentiment by stream, media types, the strongest user -> user
interactions and the top tweets with their text; then the API spend (:func:`spend_section`): the posts the
lake's API pulls read per day and stream (the spend ledger), their cost, and the API's own daily count.
Every table is read through :func:`pipeline.query.connect` (gold at its current Delta version) and
aggregated in DuckDB first, so each chart's spec carries at most a few thousand points whatever the lake's
size: the last ``MAX_DAYS`` days with data, at most ``MAX_STREAMS`` streams (the rest summed as "other
streams"), the top ``TOP_HASHTAGS`` / ``TOP_EDGES`` / ``TOP_TWEETS``.
A table not published yet, damaged or empty shows as an empty figure that says why and what to run.
The charts are drawn by the vendored vega scripts copied beside the page (:mod:`expectations.charts`): the
page loads nothing from the network, locally or from an S3 lake's copy.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import altair as alt

from expectations import charts
from expectations.report import CSS as QUALITY_CSS
from foundation.lake import Lake, LakeError
from foundation.layout import PUBLISHED, REPORT, REPORT_INDEX
from foundation.settings import ConfigError, load_settings
from foundation.sql import literal
from ingestion import spend, usage
from pipeline.query import connect

# The lake layout's report folder (to move to foundation.layout beside QUALITY).
QUALITY_LINK = "../quality/index.html"  # from report/index.html

MAX_DAYS = 90  # daily charts show the most recent days with data: a year of days would crowd the axis
MAX_STREAMS = 10  # series per chart; a lake following many accounts sums the smaller streams
OTHER_STREAMS = "other streams"
TOP_HASHTAGS = 10
TOP_EDGES = 20
TOP_TWEETS = 10
REFRESH = "run tweetlake refresh"

CSS = """
nav.toc{margin:8px 0 0;font-size:14px}nav.toc a{margin-right:12px}
section{margin:0 0 8px}
table.tweets td.text{white-space:pre-wrap;max-width:640px;word-break:break-word}
"""


@dataclass
class Tables:
    """What the page reads: the connection and which views exist or are damaged (name -> what to do)."""

    con: Any
    views: list[str]
    damaged: dict[str, str] = field(default_factory=dict)
    unreadable: str = ""  # the whole lake could not be opened: every chart says this

    def why_not(self, *names: str) -> str:
        """Why a chart of ``names`` cannot be drawn ('' when it can): not built, damaged or empty."""
        if self.unreadable:
            return self.unreadable
        for name in names:
            if name in self.damaged:
                return f"{name} cannot be read: {self.damaged[name]}"
            if name not in self.views:
                what = "not published yet" if name.startswith("gold.") else "not built yet"
                return f"{name} {what}: {REFRESH}"
            found = self.con.execute(f"select 1 from {name} limit 1").fetchone()
            if found is None:
                return f"{name} has no rows yet: nothing to draw ({REFRESH} once tweets are collected)"
        return ""

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()]

    def columns(self, name: str) -> set[str]:
        return {r[0] for r in self.con.execute(f"describe {name}").fetchall()}


def _plain(value: Any) -> Any:
    """A value as JSON holds it: dates as ISO strings, HUGEINT sums as ints, NaN as null."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _recent(table: str, day: str = "day", where: str = "true") -> str:
    """A filter keeping the last MAX_DAYS days with data of ``table`` (by its date column ``day``)."""
    return f"{day} > (select max({day}) from {table} where {where}) - {MAX_DAYS}"


class Streams:
    """The streams charted by name (the MAX_STREAMS - 1 with the most tweets when there are more than
    MAX_STREAMS); the others are summed as one series, so no legend holds a hundred accounts."""

    def __init__(self, tables: Tables) -> None:
        self.kept: list[str] | None = None
        self.total = 0
        source = next((t for t in ("gold.sentiment_daily", "gold.media_daily") if t in tables.views), None)
        if source is None:
            return
        try:
            ranked = tables.con.execute(
                f"select stream from {source} group by stream order by sum(tweets) desc, stream"
            ).fetchall()
        except Exception:  # the charts reading this table say what is wrong with it; here: no folding
            return
        self.total = len(ranked)
        if self.total > MAX_STREAMS:
            self.kept = [r[0] for r in ranked[: MAX_STREAMS - 1]]

    def label(self, column: str = "stream") -> str:
        """SQL naming a row's series: its stream, or OTHER_STREAMS for one not kept."""
        if self.kept is None:
            return column
        kept = ", ".join(literal(s) for s in self.kept)
        return f"case when {column} in ({kept}) then {column} else {literal(OTHER_STREAMS)} end"

    def note(self) -> str:
        if self.kept is None:
            return ""
        others = self.total - len(self.kept)
        return f" The {len(self.kept)} streams with the most tweets; the other {others} summed."


def _days_axis(rows: list[dict[str, Any]]) -> alt.X:
    """An x axis of UTC days (the dates are UTC; a reader's browser need not be), a tick per day or per
    few days: never the hours a time scale would tick between two days."""
    days = sorted({r["day"] for r in rows})
    span = (dt.date.fromisoformat(days[-1]) - dt.date.fromisoformat(days[0])).days + 1 if days else 1
    ticks = {"interval": "day", "step": max(1, math.ceil(span / 12))}
    return alt.X("utcyearmonthdate(day):T", title="day (UTC)", axis=alt.Axis(format="%b %d", tickCount=ticks))


def _stream_color() -> alt.Color:
    return alt.Color(
        "stream:N", title="stream", legend=alt.Legend(orient="bottom", columns=2, labelLimit=320)
    )


# -- the charts ----------------------------------------------------------------------------------------
# Each returns (chart, note) or raises Empty with what to say instead: the page draws what it can.


class Empty(Exception):
    """Nothing to draw; the message says why."""


def tweets_daily(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "gold.sentiment_daily"
    rows = t.rows(
        f"select cast(day as varchar) as day, {s.label()} as stream, sum(tweets) as tweets from {table} "
        f"where {_recent(table)} group by all order by all"
    )
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=_days_axis(rows),
            y=alt.Y("tweets:Q", title="tweets", stack="zero"),
            color=_stream_color(),
            tooltip=["day:N", "stream:N", alt.Tooltip("tweets:Q", format=",")],
        )
    )
    note = (
        f"Tweets collected per day (created date, UTC), stacked by stream: {table} (day, stream, tweets)."
        + s.note()
    )
    return chart, note


def engagement_daily(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "silver.tweets"
    collected = "seen_in is distinct from 'includes'"  # the streams' own tweets, as gold counts them
    rows = t.rows(
        f"select cast(created_date as varchar) as day, {s.label()} as stream, count(*) as tweets, "
        "sum(like_count + retweet_count + reply_count + quote_count) as engagement "
        f"from {table} where {collected} and {_recent(table, 'created_date', collected)} "
        "group by all order by all"
    )
    if not rows:
        raise Empty(f"{table} holds no collected tweets yet: {REFRESH}")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=_days_axis(rows),
            y=alt.Y("engagement:Q", title="likes + retweets + replies + quotes"),
            color=_stream_color(),
            tooltip=["day:N", "stream:N", alt.Tooltip("engagement:Q", format=","), "tweets:Q"],
        )
    )
    note = (
        "Engagement (the latest likes + retweets + replies + quotes) of the tweets created each day, per "
        f"stream: {table} (no gold table keeps engagement per stream; silver is as of the last build)."
        + s.note()
    )
    return chart, note


def hashtags(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "gold.hashtag_trends_daily"
    # cashtags are tickers, not topics: the same table keeps them apart by kind (older lakes have no kind)
    kind = "kind = 'hashtag'" if "kind" in t.columns(table) else "true"
    rows = t.rows(
        f"with shown as (select * from {table} where {kind} and {_recent(table, where=kind)}), "
        f"top as (select tag from shown group by tag order by sum(tweets) desc, tag limit {TOP_HASHTAGS}) "
        "select cast(day as varchar) as day, '#' || tag as tag, sum(tweets) as tweets, "
        "sum(authors) as authors, sum(engagement) as engagement "
        "from shown where tag in (select tag from top) group by all order by all"
    )
    if not rows:
        raise Empty(f"{table} holds no hashtags yet: nothing to draw")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=_days_axis(rows),
            y=alt.Y("tweets:Q", title="tweets using it"),
            color=alt.Color("tag:N", title="hashtag", legend=alt.Legend(orient="right")),
            tooltip=["day:N", "tag:N", "tweets:Q", "authors:Q", alt.Tooltip("engagement:Q", format=",")],
        )
    )
    note = (
        f"Tweets using each of the {TOP_HASHTAGS} most used hashtags, per day: {table} (day, tag, tweets; "
        "kind = hashtag, cashtags left out)."
    )
    return chart, note


def sentiment(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "gold.sentiment_daily"
    # a summed "other streams" series needs the tweet-weighted mean of its streams' means
    rows = t.rows(
        f"select cast(day as varchar) as day, {s.label()} as stream, sum(tweets) as tweets, "
        "sum(mean_score * tweets) / sum(tweets) as mean_score, "
        "sum(share_positive * tweets) / sum(tweets) as share_positive, "
        "sum(share_negative * tweets) / sum(tweets) as share_negative "
        f"from {table} where {_recent(table)} and mean_score is not null group by all order by all"
    )
    if not rows:
        raise Empty(f"{table} holds no scored tweets yet: nothing to draw")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=_days_axis(rows),
            y=alt.Y("mean_score:Q", title="mean VADER compound score", scale=alt.Scale(domain=[-1, 1])),
            color=_stream_color(),
            tooltip=[
                "day:N",
                "stream:N",
                "tweets:Q",
                alt.Tooltip("mean_score:Q", format=".3f"),
                alt.Tooltip("share_positive:Q", format=".0%"),
                alt.Tooltip("share_negative:Q", format=".0%"),
            ],
        )
    )
    note = (
        f"Mean sentiment (VADER compound, -1 to 1) of each day's tweets, per stream: {table} "
        "(day, stream, mean_score, share_positive, share_negative)." + s.note()
    )
    return chart, note


def media(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "gold.media_daily"
    shown = f"select * from {table} where {_recent(table)}"
    counts = t.rows(
        "select coalesce(sum(tweets) filter (where media_type = 'none'), 0) as without, "
        f"coalesce(sum(tweets), 0) as tweets from ({shown})"
    )[0]
    # 'none' is most tweets: drawn, it would flatten every media type to a sliver; the note gives its share
    rows = t.rows(
        "select cast(day as varchar) as day, media_type, sum(tweets) as tweets, sum(media_items) as items, "
        f"sum(views) as views from ({shown}) where media_type != 'none' group by all order by all"
    )
    if not rows:
        raise Empty(f"no tweet in {table} carries media (photos, videos, GIFs) yet: nothing to draw")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=_days_axis(rows),
            y=alt.Y("tweets:Q", title="tweets with media", stack="zero"),
            color=alt.Color("media_type:N", title="media type", legend=alt.Legend(orient="right")),
            tooltip=["day:N", "media_type:N", "tweets:Q", "items:Q", alt.Tooltip("views:Q", format=",")],
        )
    )
    note = (
        "Tweets carrying each type of media per day, all streams, retweets left out "
        f"({counts['without']:,} of {counts['tweets']:,} tweets carry none): {table} "
        "(day, media_type, tweets, media_items, views)."
    )
    return chart, note


def interactions(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    table = "gold.interactions"
    # an edge is a (source, target) pair whatever the kind; its kinds stack in its bar
    rows = t.rows(
        "with edges as (select source_user_id, target_user_id, sum(interactions) as total, "
        "'@' || coalesce(max(source_username), source_user_id) || ' → @' "
        "|| coalesce(max(target_username), target_user_id) as edge "
        f"from {table} group by source_user_id, target_user_id), "
        "top as (select *, row_number() over (order by total desc, edge, source_user_id, target_user_id) "
        f"as rank from edges qualify rank <= {TOP_EDGES}) "
        "select top.rank, top.edge, top.total, i.interaction, sum(i.interactions) as interactions "
        f"from top join {table} as i using (source_user_id, target_user_id) group by all order by all"
    )
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y(
                "edge:N",
                title=None,
                sort=alt.EncodingSortField(field="rank", op="min", order="ascending"),
                axis=alt.Axis(labelLimit=320),
            ),
            x=alt.X("interactions:Q", title="interactions", stack="zero"),
            color=alt.Color("interaction:N", title="kind", legend=alt.Legend(orient="right")),
            tooltip=["edge:N", "interaction:N", "interactions:Q", alt.Tooltip("total:Q", title="all kinds")],
        )
    )
    note = (
        f"The {TOP_EDGES} user → user pairs with the most interactions (replies, mentions, quotes, "
        f"retweets), stacked by kind: {table} (source_username, target_username, interaction, interactions)."
    )
    return chart, note


def _top_tweet_rows(t: Tables) -> list[dict[str, Any]]:
    # one row per tweet: a tweet counts once even if an older lake ranked it in two streams
    return t.rows(
        "select row_number() over (order by engagement desc, tweet_id) as rank, * from ("
        "select tweet_id, cast(day as varchar) as day, stream, author_username, text, engagement, "
        "like_count, retweet_count, reply_count, quote_count from gold.top_tweets "
        "qualify row_number() over (partition by tweet_id order by engagement desc, day desc) = 1) "
        f"order by rank limit {TOP_TWEETS}"
    )


def top_tweets(t: Tables, s: Streams) -> tuple[alt.Chart, str]:
    rows = _top_tweet_rows(t)
    for row in rows:
        row["label"] = f"{row['rank']}. @{row['author_username']}"
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=alt.EncodingSortField(field="rank", order="ascending")),
            x=alt.X("engagement:Q", title="likes + retweets + replies + quotes"),
            tooltip=["label:N", "text:N", "engagement:Q", "like_count:Q", "retweet_count:Q", "day:N"],
        )
    )
    note = (
        f"The {TOP_TWEETS} most engaging tweets of all days and streams (retweets left out), their text "
        "in the table below: gold.top_tweets (rank, author_username, text, engagement and its metrics)."
    )
    return chart, note


def top_tweets_table(t: Tables) -> str:
    rows = _top_tweet_rows(t)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "engagement",
            "likes",
            "retweets",
            "replies",
            "quotes",
            "author",
            "day",
            "stream",
            "text",
        )
    )
    body = []
    for r in rows:
        nums = "".join(
            f"<td class='num'>{(r[c] or 0):,}</td>"
            for c in ("engagement", "like_count", "retweet_count", "reply_count", "quote_count")
        )
        body.append(
            f"<tr><td class='num'>{r['rank']}</td>{nums}<td>@{_esc(r['author_username'])}</td>"
            f"<td>{_esc(r['day'])}</td><td>{_esc(r['stream'])}</td>"
            f"<td class='text'>{_esc(r['text'])}</td></tr>"
        )
    return (
        f"<table class='tweets' id='top-tweets-table'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


@dataclass(frozen=True)
class Section:
    chart_id: str
    title: str
    needs: tuple[str, ...]  # the views it reads
    draw: Callable[[Tables, Streams], tuple[alt.Chart, str]]


SECTIONS = (
    Section("tweets-daily", "Tweets per day and stream", ("gold.sentiment_daily",), tweets_daily),
    Section("engagement-daily", "Engagement per day and stream", ("silver.tweets",), engagement_daily),
    Section("hashtags", "Top hashtags over time", ("gold.hashtag_trends_daily",), hashtags),
    Section("sentiment", "Sentiment over time by stream", ("gold.sentiment_daily",), sentiment),
    Section("media", "Media types", ("gold.media_daily",), media),
    Section("interactions", "Top interactions", ("gold.interactions",), interactions),
    Section("top-tweets", "Top tweets", ("gold.top_tweets",), top_tweets),
)


SPEND_ID, SPEND_TITLE = "spend", "API spend"


def spend_rows(lake: Lake) -> list[dict[str, Any]]:
    """Posts read per UTC day and stream (``endpoint stream``) by the lake's API pulls, from the spend
    ledger (failed pulls too: the API bills what it returned), the last MAX_DAYS days with reads."""
    per: dict[tuple[str, str], dict[str, int]] = {}
    for entry in spend.ledger(lake):
        if entry.source not in spend.BILLED_SOURCES:
            continue
        row = per.setdefault((entry.day, f"{entry.endpoint} {entry.stream}"), {"posts": 0, "requests": 0})
        row["posts"] += entry.posts
        row["requests"] += entry.requests
    days = sorted({day for day, _ in per})[-MAX_DAYS:]
    return [
        {"day": day, "stream": stream, **per[(day, stream)]} for day, stream in sorted(per) if day in days
    ]


def spend_section(lake: Lake) -> str:
    """The API spend: posts read per day and stream (bars), their cost, and the API's own count of the
    project's posts per day (a line, where GET /2/usage/tweets was recorded: all the project's apps, so it
    may be above the lake's). A lake of generated or replayed pages has no spend: a line says so."""
    try:
        rows = spend_rows(lake)
        api_days = usage.daily_usage(lake)
        price = load_settings().price_per_post
    except (ConfigError, LakeError, OSError, ValueError) as exc:  # a broken record: the page stands
        return charts.empty_figure(SPEND_ID, SPEND_TITLE, f"the spend ledger cannot be read: {exc}")
    if not rows:
        return (
            f"<h2 id='{SPEND_ID}'>{SPEND_TITLE}</h2><p>No API pull recorded in the spend ledger "
            "(_state/spend/): generated and replayed pages cost nothing.</p>"
        )
    shown = {r["day"] for r in rows}
    for r in rows:
        r["cost"] = round(r["posts"] * price, 4)
    api = [{"day": d, "usage": n} for d, n in sorted(api_days.items()) if d >= min(shown)]
    bars = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=_days_axis(rows + api),
            y=alt.Y("posts:Q", title="posts read", stack="zero"),
            color=alt.Color(
                "stream:N", title="pull", legend=alt.Legend(orient="bottom", columns=2, labelLimit=320)
            ),
            tooltip=[
                "day:N",
                "stream:N",
                alt.Tooltip("posts:Q", format=","),
                "requests:Q",
                alt.Tooltip("cost:Q", format="$,.2f"),
            ],
        )
    )
    chart: Any = bars
    if api:
        line = (
            alt.Chart(alt.Data(values=api))
            .mark_line(point=True, color="#222")
            .encode(
                x=_days_axis(rows + api),
                y=alt.Y("usage:Q", title="posts read"),
                tooltip=["day:N", alt.Tooltip("usage:Q", title="the API's count", format=",")],
            )
        )
        chart = alt.layer(bars, line)
    posts = sum(r["posts"] for r in rows)
    note = (
        f"Posts the lake's API pulls read per day (UTC) and pull, from the spend ledger (_state/spend/): "
        f"{posts:,} posts over {len(shown)} day(s), ${posts * price:,.2f} at ${price:g} a post "
        "(TWEETLAKE_PRICE_PER_POST)."
        + (
            " The line: the posts the API counted for the whole project per day (GET /2/usage/tweets, "
            "_state/spend/usage/)."
            if api
            else " The API's own count (GET /2/usage/tweets) was not recorded: `tweetlake plan` records it."
        )
    )
    return charts.figure(SPEND_ID, chart, SPEND_TITLE + " (posts read per day)", note)


def render_section(section: Section, tables: Tables, streams: Streams) -> str:
    """The section's figure, or an empty figure saying why there is none: one chart never stops the page."""
    try:
        why = tables.why_not(*section.needs)
        if not why:
            chart, note = section.draw(tables, streams)
            extra = top_tweets_table(tables) if section.chart_id == "top-tweets" else ""
            return charts.figure(section.chart_id, chart, section.title, note) + extra
    except Empty as exc:
        why = str(exc)
    # DuckDB, Arrow (a Delta table's file gone) and the store each raise their own: e.g. an older lake's
    # table without a column this chart reads; the other charts are still worth drawing
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]  # DuckDB goes on with the whole query
        why = f"{', '.join(section.needs)} cannot be charted: {type(exc).__name__}: {first}"
    return charts.empty_figure(section.chart_id, section.title, why)


def _published(lake: Lake) -> str:
    try:
        record = lake.read_json(PUBLISHED, default=None)
    except Exception:  # an unreadable record must not cost the page: the charts say what they read
        record = None
    if not isinstance(record, dict) or not record.get("run_id"):
        return f"no gold published yet: {REFRESH}"
    tables = record.get("tables") or {}
    return (
        f"gold published by run {_esc(record['run_id'])} at {_esc(record.get('published_at', '?'))} "
        f"({len(tables)} table(s))"
    )


def render_page(lake: Lake, tables: Tables) -> str:
    streams = Streams(tables)
    toc = "".join(f"<a href='#{s.chart_id}'>{_esc(s.title)}</a>" for s in SECTIONS)
    toc += f"<a href='#{SPEND_ID}'>{SPEND_TITLE}</a>"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>tweetlake lake report</title>",
        charts.head(),
        f"<style>{QUALITY_CSS}{charts.CSS}{CSS}</style></head><body>",
        "<header><h1>tweetlake lake report</h1>",
        f"<p>{_published(lake)} &middot; <a style='color:#fff' href='{QUALITY_LINK}'>data quality report</a>"
        "</p></header><main>",
        f"<nav class='toc'>{toc}</nav>",
    ]
    for section in SECTIONS:
        parts.append(f"<section>{render_section(section, tables, streams)}</section>")
    parts.append(f"<section>{spend_section(lake)}</section>")
    parts.append(f"</main>{charts.RENDER}</body></html>\n")
    return "".join(parts)


def write_lake_report(lake: Lake) -> str:
    """(Re)write ``<lake>/report/index.html`` (and its chart scripts) from the published gold; returns its
    URL. Tables missing, damaged or empty show as empty figures saying why; nothing here raises for them."""
    charts.ensure_scripts(lake, REPORT)
    try:
        con, views, damaged = connect(lake)
    except Exception as exc:  # delta-rs and the store raise their own types: the page still says what failed
        tables = Tables(None, [], unreadable=f"the lake's tables cannot be read: {exc}")
        page = render_page(lake, tables)
    else:
        try:
            page = render_page(lake, Tables(con, views, damaged))
        finally:
            con.close()
    lake.write_bytes(REPORT_INDEX, page.encode("utf-8"))
    return lake.url(REPORT_INDEX)
