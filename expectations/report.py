"""The data-quality report index, ``<lake>/quality/index.html``: every run over time, written by us.

One self-contained HTML page (inline CSS, no script, no network) built from the run records in
``<lake>/quality/runs/*.json``: the latest run's tables first (status, rows, expectations met, a link to the
table's GX Data Docs page), then a table of all runs, newest first (time, run id, suites passed / failed /
not built, each failure with its expectation, column, count and a few offending values, linked to the GX
page that shows it). ``tweetlake report --serve`` serves the quality folder on 127.0.0.1 (for an S3 lake,
from a local copy).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import posixpath
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from expectations import charts
from foundation.lake import Lake
from foundation.layout import QUALITY, QUALITY_INDEX, QUALITY_RUNS, REPORT, REPORT_INDEX

INDEX = QUALITY_INDEX  # the name pipeline.cli imports

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
header{background:#24292f;color:#fff;padding:16px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1d9;font-size:14px}
main{padding:16px 32px}h2{font-size:18px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}
th,td{border:1px solid #d0d7de;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eaeef2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}
.notbuilt,.nobaseline{background:#eaeef2;color:#57606a}.warning{background:#fff8c5;color:#7d4e00}
.ok{background:#dafbe1;color:#116329}ol.failures li.failure{margin:8px 0}.hint{color:#7d4e00;font-size:13px}
table.rows{width:auto;margin:4px 0 8px;font-size:12px}
ul.failures{margin:0;padding-left:18px}ul.failures li{margin:2px 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;background:#eaeef2;padding:0 3px}
a{color:#0969da}.muted{color:#57606a}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _status(status: str) -> str:
    cls = status.replace(" ", "")
    return f'<span class="status {cls}">{_esc(status)}</span>'


def load_runs(lake: Lake) -> list[dict[str, Any]]:
    """Every run's summary (the ``report`` part of ``quality/runs/<run_id>.json``), newest first."""
    runs = []
    for rel in lake.glob(f"{QUALITY_RUNS}/*.json"):
        doc = lake.read_json(rel, default=None)
        if doc and isinstance(doc.get("report"), dict):
            runs.append(doc["report"])
    runs.sort(key=lambda r: (r.get("started_at", ""), r.get("run_id", "")), reverse=True)
    return runs


def _failure_item(f: dict[str, Any]) -> str:
    col = f" on <code>{_esc(f['column'])}</code>" if f.get("column") else ""
    count = ""
    if f.get("unexpected_count") is not None:
        total = f" of {f['element_count']:,}" if f.get("element_count") else ""
        count = f": {f['unexpected_count']:,}{total} unexpected"
    examples = f.get("examples") or []
    ex = f"; e.g. <code>{_esc(json.dumps(examples[:5], default=str))}</code>" if examples else ""
    if f.get("observed") is not None and not examples:
        ex = f"; observed <code>{_esc(f['observed'])}</code>"
    err = f"; error: {_esc(f['error'])}" if f.get("error") else ""
    name = f"<b>{_esc(f['suite'])}</b> {_esc(f['expectation'])}"
    if f.get("docs_page"):
        name = f'<a href="{_esc(f["docs_page"])}">{name}</a>'
    return f"<li>{name}{col}{count}{ex}{err}</li>"


def _where(row: dict[str, Any]) -> str:
    """A traced row's bronze file, line and page."""
    rel = row.get("bronze_file")
    if not rel:
        return "<span class='muted'>no bronze line (an aggregate row, or no tweet_id)</span>"
    line = f":{row['line']}" if row.get("line") else ""
    page = f" (page {row['page_number']})" if row.get("page_number") else ""
    return f"<code>{_esc(rel)}{line}</code>{_esc(page)}"


def _rows_table(rows: list[dict[str, Any]]) -> str:
    shown = [c for c in rows[0] if c not in ("bronze_file", "line", "page_number")]
    head = "".join(f"<th>{_esc(c)}</th>" for c in shown) + "<th>bronze file:line (page)</th>"
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(r.get(c))}</td>" for c in shown) + f"<td>{_where(r)}</td></tr>"
        for r in rows
    )
    return f"<table class='rows'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _failures_first(latest: dict[str, Any]) -> list[str]:
    """The latest run's failures, each with a sample of its offending rows traced to bronze."""
    fails = latest.get("failures", [])
    if not fails:
        return []
    parts = [f"<h2 id='failures'>Failures in the latest run ({len(fails)})</h2><ol class='failures'>"]
    for f in fails:
        parts.append(f"<li class='failure'>{_failure_item(f)[4:-5]}")
        if f.get("description"):
            parts.append(f"<div class='muted'>{_esc(f['description'])}</div>")
        if f.get("hint"):
            parts.append(f"<div class='hint'>{_esc(f['hint'])}</div>")
        if f.get("rows"):
            parts.append(_rows_table(f["rows"]))
        parts.append("</li>")
    parts.append("</ol>")
    return parts


_ORDER = {"failed": 0, "warning": 1, "no baseline": 2, "ok": 3}


def _monitors(latest: dict[str, Any]) -> list[str]:
    """The latest run's monitors, those out of their band first."""
    found = sorted(
        latest.get("monitors", []), key=lambda m: (_ORDER.get(m.get("status", ""), 9), m["name"], m["key"])
    )
    if not found:
        return []
    out_of_band = sum(1 for m in found if m.get("status") in ("warning", "failed"))
    parts = [
        f"<h2 id='monitors'>Monitors, latest run ({out_of_band} out of band)</h2>",
        "<table id='monitor-table'><thead><tr><th>monitor</th><th>key</th><th>day</th><th>status</th>"
        "<th>value</th><th>band</th><th>what it says</th></tr></thead><tbody>",
    ]
    for m in found:
        lo, hi = m.get("lower"), m.get("upper")
        band = (
            ""
            if lo is None and hi is None
            else f"{'' if lo is None else f'{lo:,.4g}'} to {'' if hi is None else f'{hi:,.4g}'}"
        )
        value = "" if m.get("value") is None else f"{m['value']:,.4g}"
        status = m.get("status", "")
        parts.append(
            f"<tr class='monitor {status.replace(' ', '')}'><td>{_esc(m['name'])}</td>"
            f"<td>{_esc(m['key'])}</td>"
            f"<td>{_esc(m.get('day', ''))}</td><td>{_status(status)}</td><td class='num'>{value}</td>"
            f"<td class='num'>{_esc(band)}</td><td>{_esc(m.get('message', ''))}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _latest(latest: dict[str, Any]) -> list[str]:
    """The latest run's tables: status, rows, expectations met, a link to each table's GX page."""
    ok = "passed" if latest.get("success") else "failed"
    parts = [
        f"<h2 id='latest'>Latest run {_esc(latest['run_id'])} {_status(ok)}</h2>"
        f"<p class='muted'>{_esc(latest.get('started_at', ''))}, {latest.get('seconds', 0):.1f}s, "
        f"reference time {_esc(latest.get('as_of', ''))} ({_esc(latest.get('as_of_source', ''))})</p>",
        "<table id='suites'><thead><tr><th>table</th><th>status</th><th>rows</th><th>rows read</th>"
        "<th>expectations met</th><th>notes</th></tr></thead><tbody>",
    ]
    for s in latest.get("suites", []):
        name = _esc(s["suite"])
        if s.get("docs_page"):
            name = f'<a href="{_esc(s["docs_page"])}">{name}</a>'
        notes = "; ".join(s.get("skipped") or [])
        met = f"{s['successful']}/{s['evaluated']}" if s.get("status") != "not built" else ""
        parts.append(
            f"<tr><td>{name}</td><td>{_status(s.get('status', 'failed'))}</td>"
            f"<td class='num'>{s.get('rows', 0):,}</td><td class='num'>{s.get('rows_checked', 0):,}</td>"
            f"<td class='num'>{met}</td><td>{_esc(notes)}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _history(runs: list[dict[str, Any]]) -> list[str]:
    """Every run, newest first, with its failures."""
    parts = [
        "<h2 id='runs'>All runs</h2><table id='history'><thead><tr><th>time (UTC)</th><th>run id</th>"
        "<th>status</th><th>passed</th><th>failed</th><th>not built</th><th>seconds</th><th>failures</th>"
        "</tr></thead><tbody>"
    ]
    for r in runs:
        suites = r.get("suites", [])
        passed = sum(1 for s in suites if s.get("status", "") == "passed")
        failed = sum(1 for s in suites if s.get("status", "") == "failed")
        not_built = sum(1 for s in suites if s.get("status", "") == "not built")
        fails = r.get("failures", [])
        items = "".join(_failure_item(f) for f in fails[:20])
        if len(fails) > 20:
            items += f"<li>... and {len(fails) - 20} more (see runs/{_esc(r['run_id'])}.json)</li>"
        parts.append(
            f"<tr><td>{_esc(r.get('started_at', ''))}</td>"
            f"<td><a href='runs/{_esc(r['run_id'])}.json'>{_esc(r['run_id'])}</a></td>"
            f"<td>{_status('passed' if r.get('success') else 'failed')}</td>"
            f"<td class='num'>{passed}</td><td class='num'>{failed}</td><td class='num'>{not_built}</td>"
            f"<td class='num'>{r.get('seconds', 0):.1f}</td>"
            f"<td>{'<ul class=failures>' + items + '</ul>' if items else ''}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def render_index(runs: list[dict[str, Any]], lake_report: bool = False) -> str:
    """The index page; ``lake_report``: link the lake report (it exists once gold was published)."""
    from expectations.quality_charts import figures

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>tweetlake data quality</title>",
        f"<style>{CSS}{charts.CSS}</style>{charts.head()}</head><body>",
        "<header><h1>tweetlake data quality</h1>",
        f"<p>{len(runs)} validation run(s) &middot; GX Data Docs: "
        "<a style='color:#fff' href='docs/index.html'>latest run's pages</a>"
        + (
            " &middot; <a style='color:#fff' href='../report/index.html'>the lake report (gold as charts)</a>"
            if lake_report
            else ""
        )
        + "</p></header><main>",
    ]
    if runs:
        parts.extend(_failures_first(runs[0]))
        parts.extend(_monitors(runs[0]))
    parts.append("<h2 id='charts'>Over runs</h2>")
    parts.extend(figures(runs))
    if runs:
        parts.extend(_latest(runs[0]))
    parts.extend(_history(runs))
    parts.append(f"</main>{charts.RENDER}</body></html>\n")
    return "".join(parts)


def write_index(lake: Lake) -> str:
    """(Re)write ``<lake>/quality/index.html`` from every run record; returns its URL."""
    charts.ensure_scripts(lake, QUALITY)
    page = render_index(load_runs(lake), lake_report=lake.exists(REPORT_INDEX))
    return lake.write_bytes(QUALITY_INDEX, page.encode("utf-8"))


# What of ``quality/`` is the report: the index, the GX Data Docs and the run records it links to. Not
# ``quality/_state`` (the validator's bookkeeping: bronze paths and tweet ids), nor hidden or temporary files.
REPORT_PARTS = ("index.html", "docs", "runs", "static")


def is_report_path(rel: str) -> bool:
    """True if ``rel`` (relative to ``quality/``, ``/``-separated) is part of the report."""
    parts = [p for p in rel.split("/") if p]
    return bool(parts) and parts[0] in REPORT_PARTS and not any(p.startswith(".") for p in parts)


def is_served_path(rel: str) -> bool:
    """True if ``rel`` (relative to the lake root) is a page ``report --serve`` serves: the quality report's
    parts (:func:`is_report_path`) and the lake report (``report/``), nothing hidden."""
    parts = [p for p in rel.split("/") if p]
    if len(parts) >= 2 and parts[0] == QUALITY:
        return is_report_path("/".join(parts[1:]))
    return len(parts) >= 2 and parts[0] == REPORT and not any(p.startswith(".") for p in parts)


def local_report_root(lake: Lake) -> tuple[str, Callable[[], None]]:
    """A local folder holding both reports under ``quality/`` and ``report/``: the lake root itself, or a
    download of an S3 lake's report files only."""
    if not lake.remote:
        return lake.root, lambda: None
    return _download(lake, "", (QUALITY, REPORT), is_served_path, "tweetlake-report-")


def local_quality_folder(lake: Lake) -> tuple[str, Callable[[], None]]:
    """A local folder holding the lake's report (``quality/`` itself, or a download of an S3 one's report
    parts only: the validator's state can be large and is no page of the report)."""
    if not lake.remote:
        return lake.url(QUALITY), lambda: None
    return _download(lake, QUALITY, (QUALITY,), is_report_path, "tweetlake-quality-")


def _download(
    lake: Lake, base: str, tops: tuple[str, ...], keep: Callable[[str], bool], prefix: str
) -> tuple[str, Callable[[], None]]:
    """A temporary local copy of the files under ``tops`` whose path relative to ``base`` ``keep`` takes,
    laid out relative to ``base``; and what removes it."""
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    for top in tops:
        for rel in lake.walk_files(top):
            inside = posixpath.relpath(rel, base) if base else rel
            if not keep(inside):
                continue
            target = os.path.join(tmp.name, *inside.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            lake.fs.get(lake._strip(lake.url(rel)), target)
    return tmp.name, tmp.cleanup


class _ReportHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the report's files and nothing else: 404 for anything outside ``REPORT_PARTS`` of the folder,
    for a symlink that leads out of it, a hidden file, a NUL byte, and for directory listings.

    The stdlib already drops ``..`` segments (also ``%2e%2e``, decoded first); the checks here are on the
    resolved path, so no spelling of a path and no link reaches the lake's bronze, ``_state`` or beyond."""

    allowed_path: Callable[[str], bool] = staticmethod(is_report_path)

    home = ""  # where "/" leads when the folder has no index of its own (the lake root: the quality index)

    def send_head(self) -> Any:
        if self.home and self.path == "/":
            self.send_response(302)
            self.send_header("Location", self.home)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        try:
            allowed = self._allowed(self.translate_path(self.path))
        except ValueError:  # a NUL byte: os.path refuses it
            allowed = False
        if not allowed:
            self.send_error(404, "not part of the quality report")
            return None
        return super().send_head()

    def _allowed(self, path: str) -> bool:
        root = os.path.realpath(self.directory)
        real = os.path.realpath(path)
        if real == root:  # "/": the index (directory handling serves index.html, never a listing)
            return os.path.isfile(os.path.join(root, "index.html"))
        if os.path.commonpath([root, real]) != root:
            return False
        rel = os.path.relpath(real, root).replace(os.sep, "/")
        if os.path.isdir(real):  # a folder of the report: its index.html (never a listing)
            return self.allowed_path(f"{rel}/index.html") and os.path.isfile(os.path.join(real, "index.html"))
        return self.allowed_path(rel)

    def list_directory(self, path: Any) -> Any:
        self.send_error(404, "not part of the quality report")
        return None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


def make_server(
    folder: str, port: int = 0, host: str = "127.0.0.1", *, allowed: Callable[[str], bool] = is_report_path
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the report in ``folder`` on ``host:port`` (0: any free port); call
    ``serve_forever``. Only the loopback address by default: the report shows tweets and account names.
    ``allowed``: which paths below ``folder`` it serves (the quality folder's report parts by default;
    :func:`is_served_path` for a lake root with both reports)."""
    home = f"/{QUALITY_INDEX}" if allowed is is_served_path else ""
    handler_class = type("_Handler", (_ReportHandler,), {"allowed_path": staticmethod(allowed), "home": home})
    handler = functools.partial(handler_class, directory=folder)
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(
    lake: Lake,
    port: int = 8000,
    *,
    say: Callable[[str], None] = print,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve the lake's quality report and lake report on 127.0.0.1 until interrupted."""
    folder, cleanup = local_report_root(lake)
    try:
        server = make_server(folder, port, allowed=is_served_path)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        say(
            f"serving {lake.url(QUALITY)} at {base}/{QUALITY_INDEX} and {lake.url(REPORT)} at "
            f"{base}/{REPORT_INDEX} (Ctrl-C to stop)"
        )
        if stop is not None:  # another thread ends the serving (Ctrl-C does from the terminal)

            def stopper() -> None:
                stop.wait()
                server.shutdown()

            threading.Thread(target=stopper, daemon=True).start()
        if ready is not None:
            ready.set()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        cleanup()
