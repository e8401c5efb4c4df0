"""The data-quality report: offline GX Data Docs and our run index, opened in a real (headless) Chromium.

How the browser check works: the lake's ``quality/`` folder is served by our own report server on
127.0.0.1, Chromium runs headless with every other host unresolvable (``--host-resolver-rules``), and loads a
small harness page (same origin) that iframes a GX validation page and reads back what the browser did:
computed styles only bootstrap gives (``.navbar`` is ``display: flex``), the scripts' globals (jQuery,
bootstrap-table, vega-embed) and the Font Awesome font. ``--dump-dom`` prints the harness with those facts
as JSON. A control page whose asset paths point nowhere must come out unstyled, so the checks can fail.
Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped when it is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from expectations.report import local_quality_folder, make_server, serve
from foundation.lake import Lake
from foundation.settings import Settings
from tests.test_quality_gate import (
    DAY1,
    make_contract_lake,
    run_validation,
    tweets_frame,
    write_tweets_partition,
)

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# What a page would load from the network: a src/href/url()/@import/form action to http(s):// or //, or
# any known CDN host named anywhere (a GX upgrade that adds a CDN asset shows up here).
_RESOURCE = re.compile(
    r"""(?:<(?:script|img|iframe|source|embed)\b[^>]*?\bsrc\s*=\s*["']?|<link\b[^>]*?\bhref\s*=\s*["']?|"""
    r"""url\(\s*["']?|@import\s+["']|<form\b[^>]*?\baction\s*=\s*["']?)(https?:)?//""",
    re.I,
)
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "unpkg.com",
    "code.jquery.com",
    "maxcdn.bootstrapcdn.com",
    "stackpath.bootstrapcdn.com",
    "great-expectations-web-assets",
    "fonts.googleapis.com",
)


def external_refs(text: str) -> list[str]:
    """Resources the text would load from the network (empty when the page works offline)."""
    found = [m.group(0) for m in _RESOURCE.finditer(text) if m.group(0).rstrip().endswith("//")]
    found += [host for host in CDN_HOSTS if host in text]
    return found


def test_external_refs_sees_a_cdn_script_and_not_a_vendored_one() -> None:
    assert external_refs('<script src="https://cdn.jsdelivr.net/npm/x.js"></script>')
    assert external_refs("<link href='//example.org/a.css' rel=stylesheet>")
    assert external_refs('<script src="static/vendor/x.js"></script><a href="https://x.org">x</a>') == []


@pytest.fixture(scope="module")
def failed_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, Any]]:
    """A lake validated twice: a passing run, then a run with a duplicated tweet id."""
    lake = Lake(str(tmp_path_factory.mktemp("report") / "lake"))
    ids = make_contract_lake(lake)
    run_validation(lake, run_id="20261120T000000Z-good")
    write_tweets_partition(lake, DAY1, tweets_frame(DAY1, [ids[DAY1.isoformat()][3]]))
    report = run_validation(lake, run_id="20261121T000000Z-bad")
    assert not report.success
    yield lake, report


def test_quality_report_html_loads_nothing_from_the_internet(failed_lake: tuple[Lake, Any]) -> None:
    lake, _ = failed_lake
    pages = [r for r in lake.walk_files("quality") if r.endswith((".html", ".css"))]
    assert len(pages) > 5
    for rel in pages:
        text = lake.read_bytes(rel).decode("utf-8")
        assert external_refs(text) == [], rel
        # no src/href/url() to http(s) at all; the only absolute links left are plain <a> links
        assert not re.search(r"""(src|url\()\s*=?\s*["']?https?://""", text), rel
        assert not re.search(r"""<link[^>]*href=["']https?://""", text), rel
    # the rewritten paths resolve to vendored files that exist in the lake
    page = next(p for p in pages if "/validations/silver/tweets/" in p)
    text = lake.read_bytes(page).decode()
    local = re.findall(r"""(?:src|href)=["']([^"']*static/vendor/[^"']+)["']""", text)
    assert len(local) >= 14
    for ref in local:
        assert lake.exists(os.path.normpath(os.path.join(os.path.dirname(page), ref))), ref


def test_quality_report_index_lists_runs_and_links_failures(failed_lake: tuple[Lake, Any]) -> None:
    lake, report = failed_lake
    index = lake.read_bytes("quality/index.html").decode()
    assert index.index("20261121T000000Z-bad") < index.index("20261120T000000Z-good")  # newest first
    for suite in ("silver.tweets", "silver.users", "gold.top_tweets", "gold.tweets_export"):
        assert suite in index
    assert "expect_column_values_to_be_unique" in index
    failure = next(f for f in report.failures if f.expectation == "expect_column_values_to_be_unique")
    assert failure.docs_page and f'href="{failure.docs_page}"' in index
    assert lake.exists(f"quality/{failure.docs_page}")
    for href in re.findall(r"""href=["']([^"'#]+)["']""", index):
        assert lake.exists(f"quality/{href}"), href


def _serve(folder: str) -> tuple[Any, str]:
    server = make_server(folder, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


HARNESS = """<!doctype html><html><body><pre id="out">pending</pre>
<iframe id="f" src="%s" style="width:1200px;height:900px"></iframe>
<script>
const f = document.getElementById('f');
f.addEventListener('load', async () => {
  const w = f.contentWindow, d = f.contentDocument;
  try { await d.fonts.ready; } catch (e) {}
  const nav = d.querySelector('.navbar');
  const out = {
    title: d.title,
    navbar_display: nav ? w.getComputedStyle(nav).display : null,
    jquery: typeof w.jQuery,
    bootstrap_table: w.jQuery ? typeof w.jQuery.fn.bootstrapTable : 'undefined',
    vega_embed: typeof w.vegaEmbed,
    font_awesome: d.fonts.check('900 16px "Font Awesome 6 Free"'),
    sheets: Array.from(d.styleSheets).filter(s => s.href).map(s => {
      let rules = -1; try { rules = s.cssRules.length; } catch (e) {}
      return [s.href.split('/').slice(-1)[0], rules];
    }),
    text: d.body.innerText.slice(0, 20000),
  };
  document.getElementById('out').textContent = JSON.stringify(out);
});
</script></body></html>"""


def _chromium_dump(url: str, profile: Path) -> str:
    cmd = [
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _facts(dom: str) -> dict[str, Any]:
    m = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert m, dom[:2000]
    import html

    return json.loads(html.unescape(m.group(1)))


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed: apt-get install -y chromium (in CI, a missing chromium fails instead)",
)
def test_quality_report_renders_styled_offline_in_chromium(
    failed_lake: tuple[Lake, Any], tmp_path: Path
) -> None:
    assert CHROMIUM, "chromium is required in CI: apt-get install -y chromium (make test does it as root)"
    lake, report = failed_lake
    folder, cleanup = local_quality_folder(lake)
    tweets = next(s for s in report.suites if s.suite == "silver.tweets")
    page = tweets.docs_page
    # control: the same page with its asset paths pointing nowhere must render unstyled
    control = os.path.join(folder, os.path.dirname(page), "control.html")
    with open(os.path.join(folder, page), encoding="utf-8") as fh:
        Path(control).write_text(fh.read().replace("static/vendor/", "static/nowhere/"))
    # the harness pages sit in docs/: the report server serves only the report's own folders
    docs = os.path.join(folder, "docs")

    def from_docs(path: str) -> str:
        return os.path.relpath(os.path.join(folder, path), docs).replace(os.sep, "/")

    Path(docs, "harness.html").write_text(HARNESS % from_docs(page))
    Path(docs, "harness-control.html").write_text(HARNESS % from_docs(os.path.relpath(control, folder)))
    Path(docs, "harness-index.html").write_text(HARNESS % from_docs("index.html"))
    server, base = _serve(folder)
    try:
        facts = _facts(_chromium_dump(f"{base}/docs/harness.html", tmp_path / "p1"))
        unstyled = _facts(_chromium_dump(f"{base}/docs/harness-control.html", tmp_path / "p2"))
        index = _facts(_chromium_dump(f"{base}/docs/harness-index.html", tmp_path / "p3"))
    finally:
        server.shutdown()
        cleanup()
        for name in ("harness.html", "harness-control.html", "harness-index.html"):
            Path(docs, name).unlink(missing_ok=True)
        Path(control).unlink(missing_ok=True)

    # styled: bootstrap's CSS applied, every vendored script ran, the icon font loaded, all offline
    assert facts["navbar_display"] == "flex", facts
    assert facts["jquery"] == "function" and facts["bootstrap_table"] == "function"
    assert facts["vega_embed"] == "function" and facts["font_awesome"] is True
    loaded = dict(facts["sheets"])
    assert loaded.get("bootstrap.min.css", 0) > 100 and loaded.get("all.min.css", 0) > 100, loaded
    assert unstyled["navbar_display"] != "flex" and unstyled["jquery"] != "function"
    # the page shows the failure and its offending value
    assert "expect_column_values_to_be_unique" in facts["text"] or "unique" in facts["text"].lower()
    dup = next(f for f in report.failures if f.expectation == "expect_column_values_to_be_unique")
    assert str(dup.examples[0]) in facts["text"]
    # the index lists the run's suites and the failure
    assert "silver.tweets" in index["text"] and "gold.top_tweets" in index["text"]
    assert "20261121T000000Z-bad" in index["text"] and "expect_column_values_to_be_unique" in index["text"]


def test_quality_report_cli_prints_path_and_serves_s3(
    s3_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import main

    lake = Lake.from_settings(s3_settings)
    monkeypatch.setenv("TWEETLAKE_S3_ENDPOINT", s3_settings.s3_endpoint or "")
    assert main(["report", "--lake", lake.root]) == 1  # no report yet: says so
    assert "no report yet" in capsys.readouterr().err
    lake.write_bytes("quality/index.html", b"<html>runs</html>")
    lake.write_bytes("quality/docs/index.html", b"<html>docs</html>")
    assert main(["report", "--lake", lake.root]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == lake.url("quality/index.html")
    assert "no lake report yet" in out.err and "tweetlake publish" in out.err
    folder, cleanup = local_quality_folder(lake)  # the quality folder alone, as the Data Docs tests serve it
    server, base = _serve(folder)
    try:
        assert requests.get(f"{base}/index.html", timeout=5).text == "<html>runs</html>"
        assert requests.get(f"{base}/docs/index.html", timeout=5).text == "<html>docs</html>"
    finally:
        server.shutdown()
        cleanup()
    assert not os.path.exists(folder)
    # once gold is published: both paths printed, and --serve serves both reports, nothing else of the lake
    lake.write_bytes("report/index.html", b"<html>gold</html>")
    lake.write_bytes("report/static/charts/vega.min.js", b"// vega")
    lake.write_bytes("quality/_state/validated.json", b"{}")
    lake.write_bytes("bronze/source=api/x.jsonl", b"{}")
    assert main(["report", "--lake", lake.root]) == 0
    assert capsys.readouterr().out.split() == [lake.url("quality/index.html"), lake.url("report/index.html")]
    said: list[str] = []
    ready, stop = threading.Event(), threading.Event()
    options = {"say": said.append, "ready": ready, "stop": stop}
    thread = threading.Thread(target=serve, args=(lake, 0), kwargs=options, daemon=True)
    thread.start()
    assert ready.wait(30), said
    base = re.search(r"at (http://127\.0\.0\.1:\d+)/quality/index\.html", said[0])
    assert base and "/report/index.html" in said[0], said
    url = base.group(1)
    assert requests.get(f"{url}/quality/index.html", timeout=5).text == "<html>runs</html>"
    assert requests.get(f"{url}/report/index.html", timeout=5).text == "<html>gold</html>"
    assert requests.get(f"{url}/report/", timeout=5).text == "<html>gold</html>"
    assert requests.get(f"{url}/report/static/charts/vega.min.js", timeout=5).text == "// vega"
    assert requests.get(f"{url}/", timeout=5).url == f"{url}/quality/index.html"  # "/" leads to the index
    for hidden in ("quality/_state/validated.json", "bronze/source=api/x.jsonl", "report/static/"):
        assert requests.get(f"{url}/{hidden}", timeout=5).status_code == 404, hidden
    stop.set()
    thread.join(30)
    assert not thread.is_alive()  # stopped, and its download of the S3 lake's reports removed
    assert not [p for p in os.listdir(tempfile.gettempdir()) if p.startswith("tweetlake-report-")]
