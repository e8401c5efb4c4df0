"""Failures traced to bronze: a few offending rows of a failing expectation, and the bronze line of each.

The offending rows of a column expectation are the rows whose value is one of the failure's offending values
(null for ``expect_column_values_to_not_be_null``): what GX counted as unexpected. A row of a table with a
``tweet_id`` is traced through ``silver.tweets.bronze_file`` (the file of the winning observation) to the
line of that file that holds the tweet: the first line naming its id, found by reading the file (bronze is
one page or message a line; only the sampled rows' files are read, each once) and its page number from the
line's envelope. Rows of aggregate tables (gold per day) are shown without a bronze line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from typing import Any

from expectations.results import Failure
from foundation.lake import Lake
from foundation.sql import ident

log = logging.getLogger(__name__)

SAMPLE_ROWS = 5
NOT_NULL = "expect_column_values_to_not_be_null"
_VALUE_EXPECTATIONS = (
    NOT_NULL,
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_exist_in_table",
)


def _predicate(f: Failure) -> tuple[str, list[Any]] | None:
    assert f.column is not None
    col = ident(f.column)
    if f.expectation == NOT_NULL:
        return f"{col} is null", []
    values = [v for v in f.examples if v is not None and not isinstance(v, (dict, list))]
    if not values:
        return None
    return f"cast({col} as varchar) in ({', '.join('?' for _ in values)})", [str(v) for v in values]


def offending_rows(
    con: Any, view: str, columns: list[str], f: Failure, tweets_view: str | None
) -> list[dict[str, Any]]:
    """Up to SAMPLE_ROWS rows of ``view`` that broke ``f``, with the bronze file of each tweet they name."""
    if f.column is None or f.expectation not in _VALUE_EXPECTATIONS or f.column not in columns:
        return []
    where = _predicate(f)
    if where is None:
        return []
    sql, params = where
    keep = [c for c in ("tweet_id", "author_id", "created_date", "stream") if c in columns and c != f.column]
    shown = ", ".join(ident(c) for c in [*keep, f.column])
    if "tweet_id" in columns and "bronze_file" not in columns and tweets_view:
        query = (
            f"select {', '.join('t.' + ident(c) for c in [*keep, f.column])}, s.bronze_file from {view} as t "
            f"left join {tweets_view} as s using (tweet_id) "
            f"where {sql.replace(ident(f.column), 't.' + ident(f.column))} "
            f"limit {SAMPLE_ROWS}"
        )
    else:
        extra = ", bronze_file" if "bronze_file" in columns and f.column != "bronze_file" else ""
        query = f"select {shown}{extra} from {view} where {sql} limit {SAMPLE_ROWS}"
    try:
        rel = con.execute(query, params)
        names = [d[0] for d in rel.description]
        return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rel.fetchall()]
    except Exception as exc:  # the sample is a help to the reader: the failure itself stands without it
        log.warning("could not sample the offending rows of %s %s: %s", f.suite, f.expectation, exc)
        return []


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


class BronzeLines:
    """Finds the line of a bronze file that holds a tweet; reads each file at most once."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._files: dict[str, list[bytes] | None] = {}

    def _lines(self, rel: str) -> list[bytes] | None:
        if rel not in self._files:
            try:
                self._files[rel] = self.lake.read_bytes(rel).split(b"\n")
            except (FileNotFoundError, OSError) as exc:
                log.warning("could not read %s to trace a failure: %s", rel, exc)
                self._files[rel] = None
        return self._files[rel]

    def find(self, rel: str, tweet_id: str) -> dict[str, Any]:
        lines = self._lines(rel)
        if lines is None:
            return {"line": None, "page_number": None}
        pattern = re.compile(rb'"id"\s*:\s*"?' + re.escape(tweet_id.encode()) + rb'"?\s*[,}]')
        for n, line in enumerate(lines, start=1):
            if pattern.search(line):
                page = None
                with contextlib.suppress(ValueError, AttributeError):
                    page = (json.loads(line).get("envelope") or {}).get("page_number")
                return {"line": n, "page_number": page}
        return {"line": None, "page_number": None}


def trace(lake: Lake, con: Any, views: dict[str, str], failures: list[Failure]) -> None:
    """Fill each failure's ``rows``: a few offending rows, each with its bronze file, line and page."""
    lines = BronzeLines(lake)
    tweets_view = views.get("silver.tweets")
    for f in failures:
        view = views.get(f.suite)
        if view is None:
            continue
        try:
            columns = [r[0] for r in con.execute(f"describe {view}").fetchall()]
        except Exception:  # a view of a table the run could not read: its failure says so
            continue
        rows = offending_rows(con, view, columns, f, tweets_view)
        for row in rows:
            rel, tweet_id = row.get("bronze_file"), row.get("tweet_id")
            if rel and tweet_id:
                row.update(lines.find(str(rel), str(tweet_id)))
        f.rows = rows
