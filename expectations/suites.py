"""The expectation suites: reviewable JSON files in ``expectations/suites/``, one per table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUITES_DIR = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class SuiteFile:
    name: str  # "silver.tweets"
    layer: str  # "silver"
    table: str  # "tweets"
    doc: dict[str, Any]

    @property
    def expectations(self) -> list[dict[str, Any]]:
        return self.doc.get("expectations", [])


def load_suites(layer: str | None = None) -> list[SuiteFile]:
    """Every suite file (of one layer if given), sorted by name."""
    out = []
    for path in sorted(SUITES_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        name = doc.get("name") or path.stem
        suite_layer, _, table = name.partition(".")
        if not table:
            raise ValueError(f"{path}: suite name {name!r} must be <layer>.<table>")
        if layer is None or suite_layer == layer:
            out.append(SuiteFile(name, suite_layer, table, doc))
    return out
