"""SQL text built in Python (DuckDB): literals and identifiers quoted one way.

DuckDB's Python API binds parameters in most places, but not in ``read_parquet``/``COPY`` paths built into
view definitions and multi-statement scripts, so those few places quote here.
"""

from __future__ import annotations

from typing import Any


def literal(value: Any) -> str:
    """``'it''s'``: a SQL string literal of ``str(value)``."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier: ``a "b`` -> ``"a ""b"``."""
    return '"' + name.replace('"', '""') + '"'
