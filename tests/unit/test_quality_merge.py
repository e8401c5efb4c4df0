"""Merging per-batch GX results into one, and reading a failed result: pure functions on JSON results."""

from __future__ import annotations

from typing import Any

from expectations.merge import errored, failure, merge, patched, value_counts
from expectations.plan import Planned


def batch(
    success: bool, elements: int, unexpected: int, values: list[Any], missing: int = 0
) -> dict[str, Any]:
    return {
        "success": success,
        "expectation_config": {"type": "expect_column_values_to_be_between", "kwargs": {}, "meta": {}},
        "result": {
            "element_count": elements,
            "unexpected_count": unexpected,
            "missing_count": missing,
            "partial_unexpected_list": values,
            "partial_unexpected_index_list": list(range(len(values))),
        },
        "exception_info": {"raised_exception": False},
    }


def planned(type_: str = "expect_column_values_to_be_between", **kwargs: Any) -> Planned:
    return Planned(0, "row", type_, type_, {"column": "like_count", **kwargs}, "likes are counts", {})


def test_batches_merge_into_exact_counts_and_the_first_values() -> None:
    merged = merge(
        [batch(True, 5, 0, []), batch(False, 4, 2, [-1, -3], missing=1), batch(False, 3, 1, [-1])], None, 2
    )
    res = merged["result"]
    assert merged["success"] is False
    assert (res["element_count"], res["unexpected_count"], res["missing_count"]) == (12, 3, 1)
    assert res["partial_unexpected_list"] == [-1, -3]  # the first ones, in batch order, at most `examples`
    assert res["partial_unexpected_counts"] == [{"value": -1, "count": 2}, {"value": -3, "count": 1}]
    assert "partial_unexpected_index_list" not in res  # positions in a batch mean nothing once merged
    assert res["missing_percent"] == 100.0 / 12
    assert res["unexpected_percent_total"] == 100.0 * 3 / 12
    assert res["unexpected_percent"] == res["unexpected_percent_nonmissing"] == 100.0 * 3 / 11


def test_mostly_is_decided_on_the_merged_counts_not_per_batch() -> None:
    # 1 unexpected in 10 non-missing rows: 90% >= mostly 0.9, though the second batch alone is at 80%
    batches = [batch(True, 5, 0, []), batch(False, 5, 1, ["x"])]
    assert merge([dict(b, result=dict(b["result"])) for b in batches], 0.9, 20)["success"] is True
    assert merge(batches, 0.95, 20)["success"] is False


def test_an_error_in_any_batch_fails_the_merged_result() -> None:
    broken = batch(False, 0, 0, [])
    broken["exception_info"] = {"raised_exception": True, "exception_message": "KeyError: 'x'"}
    merged = merge([batch(True, 5, 0, []), broken], 0.5, 20)
    assert merged["success"] is False and merged["exception_info"]["exception_message"] == "KeyError: 'x'"


def test_a_single_batch_is_gx_own_result_with_the_summary_value_counts() -> None:
    only = batch(False, 4, 3, ["b", "a", "b"])
    merged = merge([only], None, 20)
    assert merged is only and merged["success"] is False
    assert merged["result"]["partial_unexpected_counts"] == [
        {"value": "b", "count": 2},
        {"value": "a", "count": 1},
    ]


def test_value_counts_order_values_that_do_not_compare_by_their_json() -> None:
    counts = value_counts([None, "a", None, {"k": 1}], 10)
    assert counts[0] == {"value": None, "count": 2}
    assert [c["value"] for c in counts[1:]] == ["a", {"k": 1}]
    assert len(value_counts(list(range(30)), 5)) == 5


def test_patched_writes_duckdb_exact_counts_back() -> None:
    gx_result = {"success": False, "result": {"element_count": 2, "unexpected_count": 2, "details": {}}}
    out = patched(gx_result, {"unexpected_count": 4, "element_count": 1000, "details": {"x": 1}}, 1000)
    assert out["result"] == {
        "element_count": 1000,
        "unexpected_count": 4,
        "details": {"x": 1},
        "unexpected_percent": 0.4,
    }
    assert gx_result["result"]["element_count"] == 2  # the input is left alone
    assert patched(gx_result, {}, 1000) is gx_result


def test_failure_names_values_missing_columns_and_errors() -> None:
    p = planned()
    r = merge([batch(False, 4, 2, [-1, -3])], None, 20)
    f = failure("silver.tweets", p, r, {"like_count": "BIGINT"}, 1)
    assert (f.suite, f.expectation, f.column, f.unexpected_count, f.element_count) == (
        "silver.tweets",
        "expect_column_values_to_be_between",
        "like_count",
        2,
        4,
    )
    assert f.examples == [-1] and f.description == "likes are counts" and f.error == ""
    # a column the table lacks is said as such, whatever GX raised
    gone = failure("silver.tweets", p, errored(p, KeyError("like_count")), {"other": "BIGINT"}, 5)
    assert gone.error == "column(s) ['like_count'] not in the table"
    assert failure("s.t", p, errored(p, ValueError("bad file")), {"like_count": "BIGINT"}, 5).error == (
        "ValueError: bad file"
    )


def test_failure_of_a_column_set_names_what_is_missing_or_unexpected() -> None:
    p = Planned(
        0, "schema", "expect_table_columns_to_match_set", "expect_table_columns_to_match_set", {}, None, {}
    )
    r = {"success": False, "result": {"details": {"mismatched": {"missing": ["a"], "unexpected": ["z"]}}}}
    assert failure("silver.users", p, r, {}, 5).examples == ["missing: a", "unexpected: z"]
    ordered = {"success": False, "result": {"details": {"mismatched": []}, "partial_unexpected_list": ["x"]}}
    assert failure("silver.users", p, ordered, {}, 5).examples == []  # an empty mismatch list is what GX said
    compound = Planned(
        0, "table", "expect_compound_columns_to_be_unique", "x", {"column_list": ["a", "b"]}, None, {}
    )
    assert failure("gold.t", compound, {"success": False}, {"a": "", "b": ""}, 5).column == "a, b"
