"""Validating one table: its schema, row and whole-table expectations evaluated, merged, and said plainly.

Row expectations run on the row batches of the files not validated yet, one GX validation per column set
on a frame of just those columns: GX's pandas engine copies the frame it is given for every column
expectation (its null filter), so a wide frame would cost every expectation the width of the table.
"""

from __future__ import annotations

from typing import Any

from expectations.duck import Head
from expectations.feed import Feed, Job
from expectations.gx_adapter import ROW_RESULT_FORMAT
from expectations.merge import errored, failure, merge
from expectations.plan import NAIVE_TYPES, naive_bounds
from expectations.results import Failure, SuiteResult
from expectations.run import Run

INDEX_KEY = "tweetlake_index"  # in a row expectation's meta: its place in the suite (GX reorders results)


def validate_table(run: Run, job: Job, feed: Feed, failures: list[Failure]) -> tuple[SuiteResult, list[Any]]:
    """The table's suite result and its expectations' results (JSON, in suite order); its failures are
    added to ``failures``."""
    table = job.table
    head: Head = feed.get("head")
    sr = SuiteResult(
        table.suite.name,
        table.suite.table,
        head.rows,
        0,
        0,
        True,
        0.0,
        location=table.location,
        files=len(table.files),
    )
    sr.files_checked = len(job.files)
    merged: dict[int, dict[str, Any]] = {}
    for p in job.planned:
        if p.kind == "schema":  # once, on an empty frame with the table's columns
            [merged[p.index]] = run.gx.evaluate(head.empty, [p.build()])
    merged.update(_row_results(run, job, feed, head, sr))
    merged.update(_table_results(run, job, feed, head.rows, sr))
    ordered = [merged[i] for i in sorted(merged)]
    sr.evaluated = len(ordered)
    sr.successful = sum(bool(r["success"]) for r in ordered)
    sr.success = sr.successful == sr.evaluated
    sr.status = "passed" if sr.success else "failed"
    failures.extend(
        failure(sr.suite, job.planned[i], merged[i], head.schema, run.options.examples)
        for i in sorted(merged)
        if not merged[i]["success"]
    )
    return sr, ordered


def _row_results(run: Run, job: Job, feed: Feed, head: Head, sr: SuiteResult) -> dict[int, dict[str, Any]]:
    """The row expectations' results, merged over the row batches the feed hands out."""
    row_planned = [p for p in job.planned if p.kind == "row"]
    naive = {c for c, t in head.schema.items() if t in NAIVE_TYPES}
    groups: dict[tuple[str, ...], list[Any]] = {}
    for p in row_planned:
        exp = p.build(naive_bounds(p, naive), {**p.meta, INDEX_KEY: p.index})
        groups.setdefault(tuple(p.columns), []).append(exp)
    per: dict[int, list[dict[str, Any]]] = {p.index: [] for p in row_planned}

    def keep(results: list[dict[str, Any]]) -> None:
        for r in results:
            per[int(r["expectation_config"]["meta"].pop(INDEX_KEY))].append(r)

    while (df := feed.get("rows")) is not None:
        sr.batches += 1
        sr.rows_checked += len(df)
        for cols, exps in groups.items():
            keep(run.gx.evaluate(df[[c for c in cols if c in df.columns]], exps, ROW_RESULT_FORMAT))
        del df  # before the next batch is taken: at most two in memory
    if row_planned and not sr.batches:  # nothing new to read: the row expectations hold on no rows
        keep(run.gx.evaluate(head.no_rows, [e for exps in groups.values() for e in exps], ROW_RESULT_FORMAT))
    return {p.index: merge(per[p.index], p.kwargs.get("mostly"), run.options.examples) for p in row_planned}


def _table_results(run: Run, job: Job, feed: Feed, rows: int, sr: SuiteResult) -> dict[int, dict[str, Any]]:
    """The whole-table expectations' results: DuckDB reduced them (in the feed), GX decides."""
    out: dict[int, dict[str, Any]] = {}
    for p in job.planned:
        if p.kind != "table":
            continue
        index, reduced = feed.get("check")
        assert index == p.index, (index, p.index)
        if reduced.skipped:
            sr.skipped.append(reduced.skipped)
            continue
        try:
            if reduced.error is not None:
                raise reduced.error
            out[p.index] = run.judge(p, reduced, rows)
        except Exception as exc:  # a missing column, a broken file: a failed check, said plainly
            out[p.index] = errored(p, exc)
    return out
