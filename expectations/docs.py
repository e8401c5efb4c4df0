"""GX Data Docs that render with no internet: CDN assets served from vendored copies in the lake.

GX's page templates load bootstrap, jquery, popper, bootstrap-table, bootstrap-datepicker, font-awesome,
bootstrap-dark and vega from public CDNs, and a tracking logo from GX's S3 bucket. The exact files are
vendored in ``expectations/static/vendor/<package>@<version>/`` (from npm; versions, licenses and sha256 in
``expectations/static/vendor.json``, how to refresh them in ``expectations/static/VENDORED.md``).

:func:`rewrite_site` copies them into the site's ``static/vendor/`` and rewrites every HTML and CSS file of
the site: each known CDN URL becomes a path relative to the file, GX's logo URLs point at the logo GX
ships in ``static/images``, and the newsletter footer (a link to an external form) is dropped. The report
tests assert that no ``src``/``href``/``url()`` is left pointing at ``http(s)://`` after that, so a GX
upgrade that adds a CDN asset is noticed, not silently loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from expectations import gx_adapter
from foundation.lake import Lake
from foundation.layout import QUALITY_DOCS

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"
SITE_VENDOR = "static/vendor"

_GX_LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z0-9_./-]+"
    r"(\?[^\"')\s]*)?"
)
_NEWSLETTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>", re.S)


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    return json.loads((STATIC / "vendor.json").read_text())


def manifest_hash() -> str:
    text = f"{gx_adapter.version()}:{(STATIC / 'vendor.json').read_text()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rewrite_text(text: str, rel_to_root: str) -> str:
    """``text`` of a file ``rel_to_root`` (``"."``, ``".."``, ...) below the site root, made offline."""
    prefix = "" if rel_to_root in ("", ".") else rel_to_root.rstrip("/") + "/"
    for asset in sorted(manifest()["assets"], key=lambda a: -len(a["url"])):
        url = asset["url"]
        local = f"{prefix}{SITE_VENDOR}/{asset['path']}"
        # the bare vega@5 style URLs are prefixes of nothing else we map, but guard the quote after them
        text = re.sub(re.escape(url) + r"(?=[\"'\s)>])", local, text)
    text = _GX_LOGO.sub(f"{prefix}static/images/logo-long.png", text)
    return _NEWSLETTER.sub("", text)


def rewrite_site(site: str) -> list[str]:
    """Vendor the assets into the site folder and rewrite its HTML/CSS; the files changed."""
    target = os.path.join(site, *SITE_VENDOR.split("/"))
    shutil.copytree(VENDOR, target, dirs_exist_ok=True)
    changed = []
    for folder, _, files in os.walk(site):
        for name in files:
            if not name.endswith((".html", ".css")) or folder.startswith(target):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(site, folder).replace(os.sep, "/")
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            new = rewrite_text(text, rel)
            if new != text:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(new)
                changed.append(path)
    return changed


def publish_docs(lake: Lake, site: str) -> None:
    """Rewrite the local site for offline use and copy it to ``<lake>/quality/docs``.

    Pages of earlier runs stay (the report index links them). Static assets (GX's and the vendored ones,
    a few MB) are uploaded once per GX version and vendor manifest, marked by ``static/.tweetlake-<hash>``.
    """
    if not os.path.isdir(site):
        return
    rewrite_site(site)
    marker = posixpath.join(QUALITY_DOCS, "static", f".tweetlake-{manifest_hash()}")
    static_done = lake.exists(marker)
    for folder, _, files in os.walk(site):
        for name in files:
            local = os.path.join(folder, name)
            rel = os.path.relpath(local, site).replace(os.sep, "/")
            if static_done and rel.startswith("static/"):
                continue
            lake.put_file(local, posixpath.join(QUALITY_DOCS, rel))
    if not static_done:
        lake.write_bytes(marker, b"static assets uploaded\n")
