"""Replay: recorded response bodies (.json) and twarc2 archives (.jsonl) into bronze, as recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.lake import Lake
from foundation.settings import Settings
from ingestion.ingest import ingest
from ingestion.pages import compact_json_bytes, page_counts
from ingestion.sources import make_source
from ingestion.sources.replay import ReplaySource, _fast_page, twarc_span
from tests.bronze_reader import bronze

DATA = Path(__file__).parent / "data" / "replay"
ARCHIVE = DATA / "twarc" / "search_duckdb.jsonl"


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    return request.getfixturevalue("s3_bucket").lake()


def quiet(_: str) -> None:
    pass


def test_a_folder_of_json_bodies_lands_as_one_stream(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    summary = ingest(ReplaySource(DATA / "recorded"), lake, progress=quiet)
    assert [(r.endpoint, r.stream, r.pages, r.tweets, r.partial_errors) for r in summary.runs] == [
        ("replay", "recorded", 2, 3, 1)
    ]
    records = bronze(lake)
    files = sorted((DATA / "recorded").glob("*.json"))
    # Pretty-printed bodies lose only their line breaks: one page per bronze line, values untouched.
    assert [r.body for r in records] == [compact_json_bytes(f.read_bytes()) for f in files]
    assert [r.envelope["request"]["file"] for r in records] == [f.name for f in files]
    assert "🦆" in records[0].response["data"][0]["text"]


def test_a_twarc_archive_lands_without_twarc_metadata_and_reports_the_bad_line(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    source = ReplaySource(ARCHIVE)
    summary = ingest(source, lake, progress=quiet)

    assert len(source.problems) == 1
    assert str(source.problems[0]) == (f"{ARCHIVE}:2: malformed JSON ({_json_error()}); line skipped")
    assert "search_duckdb.jsonl:2" in caplog.text
    assert summary.problems == [str(p) for p in source.problems]
    assert [(r.endpoint, r.stream, r.pages, r.tweets) for r in summary.runs] == [
        ("search_recent", "#duckdb lang:en", 2, 4)
    ]
    records = bronze(lake)
    lines = ARCHIVE.read_bytes().splitlines()
    expected = []
    for n in (0, 2):
        doc = json.loads(lines[n])
        twarc = doc.pop("__twarc")
        expected.append((json.dumps(doc).encode(), twarc))  # twarc wrote json.dumps(page + __twarc)
    assert [r.body for r in records] == [body for body, _ in expected]  # the rest of the line, byte for byte
    assert all(b"__twarc" not in r.body for r in records)
    assert [r.envelope["request"]["twarc"] for r in records] == [t for _, t in expected]
    assert [r.envelope["request"]["line"] for r in records] == [1, 3]
    assert records[0].envelope["fetched_at"] == "2026-11-20T10:00:01.000Z"


def _json_error() -> str:
    try:
        json.loads(ARCHIVE.read_bytes().splitlines()[1])
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at column {exc.colno}"
    raise AssertionError("line 2 should be malformed")


def test_replaying_again_replaces_instead_of_duplicating(lake: Lake) -> None:
    first = ingest(ReplaySource(DATA), lake, progress=quiet)
    second = ingest(ReplaySource(DATA), lake, progress=quiet)
    assert [r.run_key for r in first.runs] == [r.run_key for r in second.runs]
    assert [r.objects for r in first.runs] == [r.objects for r in second.runs]
    records = bronze(lake)
    assert len(records) == first.pages == 2 + 2 + 2  # recorded/, the search archive, the timelines archive
    ids = [i for r in records for i in r.tweet_ids]
    assert len(ids) == len(set(ids))


def test_an_archive_of_several_timelines_gives_a_stream_per_user(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    summary = ingest(ReplaySource(DATA / "twarc" / "timelines.jsonl"), lake, progress=quiet)
    assert [(r.endpoint, r.stream, r.tweets) for r in summary.runs] == [
        ("user_tweets", "2244994945", 2),
        ("user_tweets", "783214", 1),
    ]
    assert len({r.run_key for r in summary.runs}) == 1  # one archive, one content hash


def test_lines_that_are_not_pages_are_reported_and_unusual_layouts_still_strip_twarc(tmp_path: Path) -> None:
    archive = tmp_path / "mixed.jsonl"
    page = {"data": [{"id": "1859400000000000001", "text": "a"}], "meta": {"result_count": 1}}
    twarc = {
        "url": "https://api.twitter.com/2/tweets/search/recent?query=ducks",
        "retrieved_at": "2026-11-20T01:00:00Z",
    }
    archive.write_text(
        "\n".join(
            [
                json.dumps({"__twarc": twarc, **page}, ensure_ascii=False),  # the key first: re-serialized
                json.dumps([1, 2]),
                json.dumps({"id": "1859400000000000002", "text": "flattened", "author": {"id": "1"}}),
                "",
                json.dumps({**page, "__twarc": twarc}, separators=(",", ":")),  # compact, key last: cut out
            ]
        )
        + "\n"
    )
    source = ReplaySource(archive)
    lake = Lake(str(tmp_path / "lake"))
    summary = ingest(source, lake, progress=quiet)
    problems = [str(p) for p in source.problems]
    assert problems[0].startswith(f"{archive}:2: a JSON list") and problems[1].startswith(
        f"{archive}:3: a single tweet"
    )
    assert summary.runs[0].stream == "ducks" and summary.tweets == 2
    bodies = [r.body for r in bronze(lake)]
    assert bodies == [
        json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode(),
        json.dumps(page, separators=(",", ":")).encode(),
    ]


def test_twarc_span_only_matches_the_trailing_member() -> None:
    line = b'{"data": [{"text": "say \\"__twarc\\": {} }"}], "__twarc": {"url": "u"}}'
    start, end, value = twarc_span(line) or (0, 0, None)
    assert (
        value == {"url": "u"}
        and line[:start] + line[end:] == b'{"data": [{"text": "say \\"__twarc\\": {} }"}]}'
    )
    assert twarc_span(b'{"data": [{"text": "\\"__twarc\\": {}}"}]}') is None
    assert twarc_span(b'{"__twarc": {"url": "u"}}') == (1, 24, {"url": "u"})


def test_make_source_builds_a_replay_from_a_path(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path / "lake"))
    source = make_source("replay", settings, path=str(ARCHIVE), ingest_date=None)
    assert isinstance(source, ReplaySource) and source.path == ARCHIVE


def test_the_fast_path_counts_like_the_json_path() -> None:
    lines = [
        *ARCHIVE.read_bytes().splitlines(),
        *(DATA / "twarc" / "timelines.jsonl").read_bytes().splitlines(),
    ]
    lines += [compact_json_bytes(f.read_bytes()) for f in sorted((DATA / "recorded").glob("*.json"))]
    checked = 0
    for line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            assert _fast_page(line) is None
            continue
        fast = _fast_page(line)
        assert fast is not None and fast[:3] == page_counts(doc) and fast[3] == doc.get("__twarc")
        checked += 1
    assert checked == 6
    assert _fast_page(b'{"data": [{"id": 5}], "meta": {}}') is None  # an unusual shape: the json path decides
    assert _fast_page(b'{"id": "1", "text": "flattened"}') is None
