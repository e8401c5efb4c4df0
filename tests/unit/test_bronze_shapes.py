"""The shape classifier (foundation.bronze_shapes) and the build's split of a file by read
(dbt_runtime.bronze_read): every shape recognised with its tweet ids, every other line set aside with
where and why, a cut at any byte never losing a whole line's tweet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_runtime import bronze_read
from foundation import bronze_shapes as shapes
from foundation.lake import Lake
from tests.bronze_shapes_data import empty, errors_only, flattened, line, mixed_file, page, single


def facts(raw: bytes) -> shapes.LineFacts:
    return shapes.classify_line(raw.rstrip(b"\n"))


@pytest.mark.parametrize(
    ("response", "shape", "ids"),
    [
        (page(["1", "2"]), "page", ["1", "2"]),
        ({"data": []}, "page", []),
        (single("3"), "single", ["3"]),
        (flattened("4", "9"), "flattened", ["4"]),
        (errors_only(), "errors", []),
        (empty(), "empty", []),
    ],
)
def test_every_shape_with_its_tweet_ids(response: dict, shape: str, ids: list[str]) -> None:
    got = facts(line(response, 1))
    assert (got.shape, got.ids, got.reason) == (shape, ids, "")
    assert got.fetched_at is not None and got.fetched_at.isoformat() == "2026-11-20T10:00:00+00:00"


def test_an_id_sent_as_a_number_is_read_as_its_digits() -> None:
    got = facts(line({"data": [{"id": 1234567890123456789, "text": "t", "author_id": 5}]}, 1))
    assert (got.shape, got.ids) == ("page", ["1234567890123456789"])


def test_blank_lines_carry_nothing() -> None:
    assert facts(b"").shape == facts(b"   \r").shape == "blank"


@pytest.mark.parametrize(
    ("raw", "reason", "guess"),
    [
        (line(page(["1"]), 1)[:-40], "truncated JSON", "page"),
        (b"not json at all", "malformed JSON", "unknown"),
        (
            line({"data": [{"id": "1", "public_metrics": {"like_count": "many"}}]}, 1),
            "fails its cast",
            "page",
        ),
        (line({"data": [{"id": 1.5, "text": "t"}]}, 1), "fails its cast", "page"),
        (line({"data": {"id": "1", "created_at": "yesterday"}}, 1), "fails its cast", "single"),
        (line({"data": "nope"}, 1), "fails its cast", "unknown"),
        (line({"data": [{"id": "1", "public_metrics": {"like_count": 2**63}}]}, 1), "fails its cast", "page"),
        (
            line({"data": [{"id": "1", "entities": {"urls": [{"start": 2**31}]}}]}, 1),
            "fails its cast",
            "page",
        ),
        (line({"data": [{"id": "1", "text": "t"}, None]}, 1), "fails its cast", "page"),
        (line({"unexpected": True}, 1), "none of the shapes", "unknown"),
        (line({"id": "1"}, 1), "needs both id and text", "flattened"),
        (b'{"envelope": {}}', "no response", "unknown"),
        (b"[1, 2]", "fails its cast", "unknown"),
    ],
)
def test_other_lines_are_rejected_with_a_reason_and_a_guess(raw: bytes, reason: str, guess: str) -> None:
    got = facts(raw)
    assert got.shape == "rejected"
    assert reason in got.reason
    assert got.shape_guess == guess
    assert got.ids == []


def test_a_rejected_page_that_parses_says_how_many_tweets_it_held() -> None:
    bad = {"data": [{"id": "1", "public_metrics": {"like_count": "x"}}, {"id": "2"}, {"id": "3"}]}
    assert facts(line(bad, 1)).tweets_guess == 3


def test_lines_give_numbers_offsets_and_a_last_line_without_newline() -> None:
    data = b'{"a":1}\n\n{"b":22}\n{"c":'
    got = [(n, o, bytes(v)) for n, o, v in shapes.lines(io.BytesIO(data), chunk=4)]
    assert got == [(1, 0, b'{"a":1}'), (2, 8, b""), (3, 9, b'{"b":22}'), (4, 18, b'{"c":')]
    assert all(data[o : o + len(v)] == v for _, o, v in got)


def test_head_is_the_first_200_bytes_even_cut_inside_a_character() -> None:
    raw = b"x" * 199 + "é".encode()
    assert shapes.head(raw) == "x" * 199 + "\ufffd"


def test_a_file_of_one_read_is_read_in_place(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rel = "bronze/source=replay/endpoint=e/stream=s/ingest_date=2026-11-20/a.jsonl"
    lake.write_bytes(rel, line(page(["1"]), 1) + line(errors_only(), 2) + b"\n" + line(empty(), 3))
    got = bronze_read.classify_file(lake, lake.url(rel), 1, "m")
    assert got == {
        "page": lake.url(rel),
        "single": None,
        "flattened": None,
        "counts": None,
        "lines": 4,
        "rejected": [],
    }


def test_a_mixed_file_with_a_cut_line_is_split_by_read_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_WORK_DIR", str(tmp_path / "work"))
    lake = Lake(str(tmp_path / "lake"))
    body, _ = mixed_file("1")
    cut = line(page(["8"]), 6)[:-30]
    rel = "bronze/source=replay/endpoint=e/stream=s/ingest_date=2026-11-20/b.jsonl"
    lake.write_bytes(rel, body + cut)
    got = bronze_read.classify_file(lake, lake.url(rel), 1, "m")
    lines = body.splitlines(keepends=True)
    assert Path(got["page"]).read_bytes() == lines[0] + lines[4] + lines[5]
    assert Path(got["single"]).read_bytes() == lines[1]
    assert Path(got["flattened"]).read_bytes() == lines[3]
    [rejected] = got["rejected"]
    assert (rejected["line"], rejected["byte_offset"], rejected["shape_guess"]) == (7, len(body), "page")
    assert "truncated JSON" in rejected["reason"] and rejected["head"] == cut[:200].decode()
    bronze_read.clear_scratch(lake.root)
    assert not bronze_read.scratch_dir(lake.root).exists()


@pytest.mark.parametrize("where", ["local", "s3"])
def test_many_files_are_classified_on_worker_processes_in_their_order(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("TWEETLAKE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(bronze_read, "PARALLEL_BYTES", 0)  # a pool however small the files
    monkeypatch.setattr(bronze_read, "cores", lambda: 2)
    # the workers open the lake themselves: on S3 from the endpoint and the environment's credentials
    lake = Lake(str(tmp_path / "lake")) if where == "local" else request.getfixturevalue("s3_bucket").lake()
    body, _ = mixed_file("1")
    # sizes unlike the order, so that the pool's largest-first order is not the answer's
    contents = [line(page(["5"]), 1), body, line(single("6"), 1), line(page(["7"]), 1) + b"{cut"]
    files = []
    for i, content in enumerate(contents):
        rel = f"bronze/source=replay/endpoint=e/stream=s/ingest_date=2026-11-20/f{i}.jsonl"
        lake.write_bytes(rel, content)
        files.append({"path": lake.url(rel), "size": len(content), "mtime": "m"})
    got = bronze_read.classify_files(lake.root, lake.s3_endpoint, files, folder=tmp_path / "split")
    assert [g["lines"] for g in got] == [1, len(body.splitlines()), 1, 2]
    assert got[0]["page"] == files[0]["path"] and got[2]["single"] == files[2]["path"]
    assert Path(got[1]["single"]).read_bytes() == body.splitlines(keepends=True)[1]
    assert [r["line"] for r in got[3]["rejected"]] == [2] and got[3]["page"] is not None


def _file_and_ids(n_lines: int) -> tuple[bytes, list[set[str]]]:
    """A bronze file of ``n_lines`` lines of varied shapes, and the ids of each line."""
    makers = [
        lambda i: (page([f"{i}1", f"{i}2"]), {f"{i}1", f"{i}2"}),
        lambda i: (single(f"{i}3"), {f"{i}3"}),
        lambda i: (flattened(f"{i}4", "99"), {f"{i}4"}),
        lambda i: (errors_only(), set()),
    ]
    out, ids = [], []
    for i in range(n_lines):
        response, held = makers[i % len(makers)](i + 1)
        out.append(line(response, i + 1))
        ids.append(held)
    return b"".join(out), ids


@settings(max_examples=200, deadline=None)
@given(n_lines=st.integers(1, 6), cut=st.floats(0, 1))
def test_a_cut_at_any_byte_loses_no_tweet_silently(n_lines: int, cut: float) -> None:
    data, held = _file_and_ids(n_lines)
    at = int(len(data) * cut)
    truncated = data[:at]
    seen: set[str] = set()
    rejected: list[int] = []
    for number, offset, raw in shapes.lines(io.BytesIO(truncated), chunk=64):
        got = shapes.classify_line(raw)
        assert truncated[offset : offset + len(raw)] == bytes(raw)
        if got.shape == "rejected":
            rejected.append(number)
        seen.update(got.ids)
    whole = truncated.count(b"\n")  # lines ending before the cut
    partial = truncated[truncated.rfind(b"\n") + 1 :]
    # a cut just before a newline leaves the last line whole: it is read, not set aside
    complete = bool(partial) and partial == data.splitlines()[whole]
    assert seen == set().union(*held[: whole + complete])  # every tweet of every whole line
    assert rejected == ([whole + 1] if partial and not complete else [])  # the cut line is set aside


def test_a_bronze_line_is_json_as_ingestion_writes_it() -> None:
    doc = json.loads(line(single("3"), 2))
    assert set(doc) == {"envelope", "response"} and doc["envelope"]["page_number"] == 2
