"""Charts in the lake's HTML pages: altair specs drawn by vendored vega scripts, nothing from the network.

A page built with these charts (the quality index, the lake report) carries each chart's Vega-Lite spec,
data included, as JSON in the page, and loads vega, vega-lite and vega-embed from ``static/charts/``
beside it (copied there from ``expectations/static/vendor``, once per version: :func:`ensure_scripts`).
Each chart renders as SVG; when it has drawn, its element gets ``data-rendered="true"`` and ``data-marks``,
the number of data marks it drew (bars, points, line vertices, cells: what the tests count in Chromium).
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
from typing import Any

from expectations.docs import VENDOR
from foundation.lake import Lake

# altair 6 writes Vega-Lite 6 specs (the Data Docs keep their own vega 5)
SCRIPTS = ("vega@6.4.0/vega.min.js", "vega-lite@6.4.1/vega-lite.min.js", "vega-embed@7.3.0/vega-embed.min.js")
CHART_STATIC = "static/charts"  # beside the page


def _scripts_hash() -> str:
    return hashlib.sha256("|".join(SCRIPTS).encode()).hexdigest()[:12]


def ensure_scripts(lake: Lake, folder: str) -> None:
    """The chart scripts in ``<folder>/static/charts/`` (lake-relative), uploaded once per version."""
    marker = posixpath.join(folder, CHART_STATIC, f".tweetlake-{_scripts_hash()}")
    if lake.exists(marker):
        return
    for path in SCRIPTS:
        lake.write_bytes(
            posixpath.join(folder, CHART_STATIC, posixpath.basename(path)), (VENDOR / path).read_bytes()
        )
    lake.write_bytes(marker, b"chart scripts uploaded\n")


def head() -> str:
    """The ``<script>`` tags a page with charts puts in its head."""
    return "".join(f'<script src="{CHART_STATIC}/{posixpath.basename(p)}"></script>' for p in SCRIPTS)


def spec_of(chart: Any) -> dict[str, Any]:
    """An altair chart's Vega-Lite spec (a dict passes as it is)."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    return {
        **spec,
        "config": {**spec.get("config", {}), "view": {"continuousWidth": 560, "continuousHeight": 220}},
    }


def figure(chart_id: str, chart: Any, title: str, note: str = "") -> str:
    """A chart as HTML: its title, the element it draws in, its spec as JSON, a note below it."""
    spec = json.dumps(spec_of(chart), default=str, separators=(",", ":")).replace("</", "<\\/")
    caption = f"<figcaption>{html.escape(title)}</figcaption>"
    below = f"<p class='muted'>{html.escape(note)}</p>" if note else ""
    return (
        f"<figure class='chart' id='{html.escape(chart_id)}'>{caption}"
        f"<div class='vega' data-chart='{html.escape(chart_id)}'></div>"
        f"<script type='application/json' class='spec'>{spec}</script>{below}</figure>"
    )


def empty_figure(chart_id: str, title: str, why: str) -> str:
    """Where a chart would be when there is nothing to draw yet, and why."""
    return (
        f"<figure class='chart empty' id='{html.escape(chart_id)}'><figcaption>{html.escape(title)}"
        f"</figcaption><p class='muted'>{html.escape(why)}</p></figure>"
    )


# Draws every figure's spec; counts the data marks it drew (scenegraph items of non-group marks that are
# not axes, legends or titles). A chart that fails to draw says so in place of itself.
RENDER = """<script>
(function () {
  function marks(node) {
    var n = 0;
    (node.items || []).forEach(function (it) {
      if (node.marktype === 'group') { (it.items || []).forEach(function (c) { n += marks(c); }); }
      else if (node.role === 'mark') { n += 1; }
    });
    return n;
  }
  document.querySelectorAll('figure.chart').forEach(function (fig) {
    var el = fig.querySelector('div.vega'), spec = fig.querySelector('script.spec');
    if (!el || !spec) { return; }
    if (typeof vegaEmbed !== 'function') {
      el.textContent = 'charts need static/charts/ (vega-embed)'; return;
    }
    vegaEmbed(el, JSON.parse(spec.textContent), {renderer: 'svg', actions: false}).then(function (r) {
      el.dataset.marks = String(marks(r.view.scenegraph().root));
      el.dataset.rendered = 'true';
    }).catch(function (e) { el.dataset.rendered = 'error'; el.textContent = 'chart failed: ' + e; });
  });
})();
</script>"""

CSS = """
figure.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:12px 0;padding:12px 16px;
display:inline-block;vertical-align:top;max-width:100%}
figure.chart figcaption{font-weight:600;margin-bottom:8px}
"""
