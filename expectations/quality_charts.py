"""The quality index's charts, from the run records (``quality/runs/*.json``), oldest run first.

* rows per table over runs (a line per table, a point per run),
* expectations failed per run (a bar per run),
* each monitor over runs: its value (a point per run and key) and its band (an area per key),
* the latest run's volume per stream over the judged day's baseline days, the band drawn around them.

Charts are built with altair; :mod:`expectations.charts` draws them offline. Runs older than
``MAX_RUNS`` are left out of the charts (the table of runs below them lists every run).
"""

from __future__ import annotations

from typing import Any

import altair as alt

from expectations import charts

MAX_RUNS = 200
STATUS_COLORS = alt.Scale(
    domain=["ok", "warning", "failed", "no baseline"], range=["#2da44e", "#bf8700", "#cf222e", "#8c959f"]
)


def _when(run: dict[str, Any]) -> str:
    return str(run.get("started_at", ""))


def rows_per_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"run": _when(r), "run_id": r.get("run_id"), "table": s["suite"], "rows": s.get("rows", 0)}
        for r in runs
        for s in r.get("suites", [])
        if s.get("status") != "not built"
    ]


def failed_per_run(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"run": _when(r), "run_id": r.get("run_id"), "failed": len(r.get("failures", []))} for r in runs]


def monitor_points(runs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        {
            "run": _when(r),
            "key": m["key"],
            "value": m.get("value"),
            "lower": m.get("lower") if m.get("lower") is not None else m.get("value"),
            "upper": m.get("upper") if m.get("upper") is not None else m.get("value"),
            "status": m.get("status"),
        }
        for r in runs
        for m in r.get("monitors", [])
        if m.get("name") == name and m.get("value") is not None
    ]


def volume_days(latest: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest run's volume monitors: each stream's baseline days and judged day, with the band."""
    out = []
    for m in latest.get("monitors", []):
        if m.get("name") != "volume":
            continue
        band = {"lower": m.get("lower"), "upper": m.get("upper")}
        for b in m.get("baseline", []):
            out.append(
                {"day": b["day"], "stream": m["key"], "tweets": b["value"], "status": "baseline", **band}
            )
        out.append({"day": m["day"], "stream": m["key"], "tweets": m["value"], "status": m["status"], **band})
    return out


def figures(runs_newest_first: list[dict[str, Any]]) -> list[str]:
    """Every chart of the index, as HTML figures."""
    runs = list(reversed(runs_newest_first[:MAX_RUNS]))
    if not runs:
        return [charts.empty_figure("rows", "Rows per table", "no validation run yet: run tweetlake refresh")]
    x = alt.X("run:T", title="run (UTC)")
    rows = rows_per_table(runs)
    out = [
        charts.figure(
            "rows",
            alt.Chart(alt.Data(values=rows))
            .mark_line(point=True)
            .encode(
                x,
                alt.Y("rows:Q", title="rows"),
                alt.Color("table:N"),
                tooltip=["table:N", "rows:Q", "run_id:N"],
            ),
            "Rows per table over runs",
            "each validated table's row count at each run (quality/runs/*.json)",
        ),
        charts.figure(
            "failed",
            alt.Chart(alt.Data(values=failed_per_run(runs)))
            .mark_bar()
            .encode(
                x,
                alt.Y("failed:Q", title="expectations failed", axis=alt.Axis(format="d", tickMinStep=1)),
                tooltip=["run_id:N", "failed:Q"],
            ),
            "Expectations failed per run",
            "failures of each run, monitors past a TWEETLAKE_MONITOR_FAIL threshold included",
        ),
    ]
    vol = volume_days(runs[-1])
    if vol:
        base = alt.Chart(alt.Data(values=vol))
        out.append(
            charts.figure(
                "volume-days",
                (
                    base.mark_area(opacity=0.15).encode(
                        alt.X("day:T", title="day (UTC)"),
                        alt.Y("lower:Q"),
                        alt.Y2("upper:Q"),
                        alt.Color("stream:N"),
                    )
                    + base.mark_line(point=True).encode(
                        alt.X("day:T"),
                        alt.Y("tweets:Q", title="collected tweets"),
                        alt.Color("stream:N"),
                        tooltip=["stream:N", "day:T", "tweets:Q", "status:N"],
                    )
                ).resolve_scale(color="shared"),
                "Volume per stream, latest run: the judged day against its baseline",
                "the shaded band is the baseline median ± k × MAD the judged (last) day is held to",
            )
        )
    names = sorted({m["name"] for r in runs for m in r.get("monitors", [])})
    for name in names:
        points = monitor_points(runs, name)
        if not points:
            continue
        base = alt.Chart(alt.Data(values=points))
        chart = base.mark_area(opacity=0.15).encode(
            x, alt.Y("lower:Q"), alt.Y2("upper:Q"), alt.Detail("key:N")
        ) + base.mark_point(filled=True, size=50).encode(
            x,
            alt.Y("value:Q", title=name),
            alt.Color("status:N", scale=STATUS_COLORS),
            alt.Shape("key:N"),
            tooltip=["key:N", "value:Q", "lower:Q", "upper:Q", "status:N", "run:T"],
        )
        out.append(
            charts.figure(
                f"monitor-{name}",
                chart,
                f"Monitor {name} over runs",
                "a point per run and key, coloured by status; the band each was held to, shaded",
            )
        )
    return out
