"""GX results as JSON, combined and read: per-batch results merged into one, DuckDB's exact counts written
back, a check that raised turned into a failed result, and a failed result said as a :class:`Failure`."""

from __future__ import annotations

import json
from typing import Any

from expectations.plan import Planned
from expectations.results import Failure

COUNTS = ("element_count", "unexpected_count", "missing_count")


def value_counts(values: list[Any], limit: int) -> list[dict[str, Any]]:
    """``partial_unexpected_counts`` as GX's SUMMARY format makes them from the offending values it keeps:
    the most frequent first, then by value."""
    counts: dict[str, dict[str, Any]] = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        counts.setdefault(key, {"value": v, "count": 0})["count"] += 1
    out = list(counts.values())
    try:
        out.sort(key=lambda c: (-c["count"], c["value"]))
    except TypeError:  # values that do not compare (None among strings, dicts): by their JSON
        out.sort(key=lambda c: (-c["count"], json.dumps(c["value"], sort_keys=True, default=str)))
    return out[:limit]


def merge(docs: list[dict[str, Any]], mostly: float | None, examples: int) -> dict[str, Any]:
    """One result for an expectation from its per-batch GX results (JSON, in batch order): counts summed,
    the first ``examples`` offending values kept, percentages and the verdict (``mostly``) recomputed."""
    merged = docs[0]
    if len(docs) == 1:  # GX's own result, with the value counts of the SUMMARY format (see ROW_RESULT_FORMAT)
        only = merged.get("result") or {}
        if "partial_unexpected_list" in only and "partial_unexpected_counts" not in only:
            only["partial_unexpected_counts"] = value_counts(only["partial_unexpected_list"], examples)
        return merged
    res: dict[str, Any] = dict(merged.get("result") or {})
    for key in COUNTS:
        if key in res:
            res[key] = sum(int((d.get("result") or {}).get(key) or 0) for d in docs)
    values = [v for d in docs for v in (d.get("result") or {}).get("partial_unexpected_list") or []]
    res["partial_unexpected_list"] = values[:examples]
    res["partial_unexpected_counts"] = value_counts(values, examples)
    res.pop("partial_unexpected_index_list", None)
    if "element_count" in res:
        res.update(_percentages(res))
    merged["result"] = res
    errors = [d for d in docs if (d.get("exception_info") or {}).get("raised_exception")]
    if errors:
        merged["exception_info"] = errors[0]["exception_info"]
    if mostly is not None and not errors and "element_count" in res:
        nonmissing = (res["element_count"] or 0) - (res.get("missing_count") or 0)
        ok = 1 - (res.get("unexpected_count") or 0) / nonmissing if nonmissing else 1
        merged["success"] = ok >= mostly
    else:
        merged["success"] = all(d["success"] for d in docs)
    return merged


def _percentages(res: dict[str, Any]) -> dict[str, float | None]:
    total = res["element_count"] or 0
    missing = res.get("missing_count", 0) or 0
    unexpected = res.get("unexpected_count", 0) or 0
    nonmissing = total - missing
    of_nonmissing = 100.0 * unexpected / nonmissing if nonmissing else None
    return {
        "missing_percent": 100.0 * missing / total if total else None,
        "unexpected_percent_total": 100.0 * unexpected / total if total else None,
        "unexpected_percent_nonmissing": of_nonmissing,
        "unexpected_percent": of_nonmissing,
    }


def patched(result: dict[str, Any], patch: dict[str, Any], rows: int) -> dict[str, Any]:
    """GX's result on a reduced frame with DuckDB's exact counts (and ``details``) written back."""
    if not patch:
        return result
    patch = dict(patch)
    res = dict(result.get("result") or {})
    details = patch.pop("details", None)
    res.update(patch)
    if details:
        res["details"] = details
    if "unexpected_count" in patch and rows:
        res["unexpected_percent"] = 100.0 * patch["unexpected_count"] / rows
    return {**result, "result": res}


def errored(p: Planned, exc: BaseException) -> dict[str, Any]:
    """The result of an expectation that could not be evaluated (a missing column, a broken file)."""
    return {
        "success": False,
        "expectation_config": {
            "type": p.gx_type,
            "kwargs": p.kwargs,
            "meta": p.meta,
            "description": p.description,
        },
        "result": {},
        "exception_info": {
            "raised_exception": True,
            "exception_message": f"{type(exc).__name__}: {exc}",
            "exception_traceback": None,
        },
        "meta": {},
    }


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it (anything else as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def failure(suite: str, p: Planned, r: dict[str, Any], schema: dict[str, str], examples: int) -> Failure:
    """A failed result said plainly: the offending values, or what is missing, or the error."""
    res = r.get("result") or {}
    exc = r.get("exception_info") or {}
    details = res.get("details") or {}
    found = list(res.get("partial_unexpected_list") or details.get("missing_from_table") or [])
    error = (exc.get("exception_message") or "") if exc.get("raised_exception") else ""
    absent = [c for c in p.columns if c not in schema]
    if absent:
        error = f"column(s) {absent} not in the table"
    mismatched = _mismatched(details.get("mismatched"))
    if mismatched is not None:
        found = mismatched
    return Failure(
        suite=suite,
        expectation=p.type,
        column=p.kwargs.get("column")
        or (", ".join(p.kwargs["column_list"]) if "compound" in p.type else None),
        unexpected_count=res.get("unexpected_count"),
        examples=[plain(v) for v in found[:examples]],
        description=p.description or "",
        element_count=res.get("element_count"),
        observed=plain(res.get("observed_value")),
        error=error,
    )


def _mismatched(mismatched: Any) -> list[str] | None:
    """The columns expectations' ``mismatched`` detail: what is missing or unexpected, or out of place."""
    if isinstance(mismatched, dict):  # columns_to_match_set
        return [f"missing: {c}" for c in mismatched.get("missing") or []] + [
            f"unexpected: {c}" for c in mismatched.get("unexpected") or []
        ]
    if isinstance(mismatched, list):  # columns_to_match_ordered_list
        return [
            f"position {m.get('Expected Column Position')}: expected {m.get('Expected')!r}, "
            f"found {m.get('Found')!r}"
            for m in mismatched
        ]
    return None
