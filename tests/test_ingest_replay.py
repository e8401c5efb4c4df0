"""Replay: recorded response bodies (.json) and twarc2 archives (.jsonl) into bronze, as recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundation.lake import Lake
from foundation.settings import Settings
from ingestion.ingest import ingest
from ingestion.pages import compact_json_bytes, page_counts
from ingestion.sources import make_source
from ingestion.sources.replay import TWARC_KEY, ReplaySource, _fast_page, twarc_span
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
    assert len(problems) == 1 and problems[0].startswith(f"{archive}:2: a JSON list")
    # the flattened tweet (line 3, no metadata) stays with the stream before it, as one tweet
    assert summary.runs[0].stream == "ducks" and summary.tweets == 3
    bodies = [r.body for r in bronze(lake)]
    assert bodies == [
        json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode(),
        json.dumps({"id": "1859400000000000002", "text": "flattened", "author": {"id": "1"}}).encode(),
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
    assert _fast_page(b'{"id": "1", "text": "flattened"}') == (1, 0, "1", None)
    assert _fast_page(b'{"id": "1", "author": {}}') is None  # no text: not a tweet, the json path decides


# -- every real shape (tests/data/real/, sources in its README.md) ----------------------------------------
REAL = Path(__file__).parent / "data" / "real"


def _expected_body(raw: bytes) -> bytes:
    """What bronze must hold for a recorded line: the line without its line end and without __twarc."""
    raw = raw.rstrip(b"\r\n")
    span = twarc_span(raw)
    return raw if span is None else raw[: span[0]] + raw[span[1] :]


def test_a_folder_mixing_every_shape_lands_whole_and_names_the_cut_line(lake: Lake) -> None:
    source = ReplaySource(REAL)
    summary = ingest(source, lake, progress=quiet)

    truncated = REAL / "truncated.jsonl"
    assert [str(p) for p in source.problems] == [
        f"{truncated}:2: malformed JSON ({_json_error_of(truncated, 2)}); line skipped"
    ]
    runs = [(r.endpoint, r.stream, r.pages, r.tweets, r.partial_errors) for r in summary.runs]
    assert runs == [
        ("replay", "real", 5, 8, 1),  # the .json bodies: search page, lookups, errors-only, empty
        (
            "replay",
            "filtered_stream",
            4,
            3,
            1,
        ),  # 3 stream messages + the errors-only one; keep-alives skipped
        ("search_recent", "TwitterDev", 1, 3, 0),  # truncated.jsonl: the line before the cut
        ("search_recent", "TwitterDev", 1, 3, 0),  # the archive, one pull per recorded URL
        ("user_tweets", "2244994945", 1, 2, 0),
        ("user_mentions", "2244994945", 1, 2, 0),
        ("search_recent", "TwitterDev", 3, 3, 0),  # the flatten file: a page per tweet
        ("user_tweets", "2244994945", 2, 2, 0),
        ("user_mentions", "2244994945", 2, 2, 0),
    ]
    assert len({r.run_key for r in summary.runs}) == 5  # a content hash per file (the .json folder: one)

    records = bronze(lake)
    by_origin = {(r.envelope["request"]["file"], r.envelope["request"].get("line")): r for r in records}
    assert len(by_origin) == len(records) == summary.pages == 20
    for file in sorted(REAL.glob("*.json")):
        assert by_origin[(file.name, None)].body == compact_json_bytes(file.read_bytes())
    for file in sorted(REAL.glob("*.jsonl")):
        for n, raw in enumerate(file.read_bytes().splitlines(keepends=True), start=1):
            if not raw.strip() or (file == truncated and n == 2):
                assert (file.name, n) not in by_origin
                continue
            record = by_origin[(file.name, n)]
            assert record.body == _expected_body(raw)  # byte for byte, minus twarc's metadata
            assert b"__twarc" not in record.body
            if TWARC_KEY in raw:
                assert record.envelope["request"]["twarc"] == json.loads(raw)["__twarc"]


def test_flattened_lines_take_their_endpoint_and_time_from_twarc(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    flat = REAL / "twarc2_flatten.jsonl"
    ingest(ReplaySource(flat), lake, progress=quiet)
    records = bronze(lake)
    first = json.loads(flat.read_bytes().splitlines()[0])
    mention = next(r for r in records if r.envelope["endpoint"] == "user_mentions")
    assert mention.envelope["fetched_at"] == "2024-03-05T09:00:05.000Z"  # __twarc.retrieved_at
    assert mention.response["author"]["username"] == "TwitterAPI"  # the inlined expansions stay inlined
    assert records[0].response["id"] == first["id"] and "data" not in records[0].response


def _json_error_of(file: Path, line: int) -> str:
    try:
        json.loads(file.read_bytes().splitlines()[line - 1])
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at column {exc.colno}"
    raise AssertionError(f"{file}:{line} should be malformed")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_file_cut_anywhere_lands_its_whole_lines_and_names_the_cut_one(
    tmp_path: Path, data: st.DataObject
) -> None:
    """A partial upload: whatever the cut, every complete line lands byte for byte, and a line cut short
    is named by file and line; no tweet of the file is lost without a problem saying where."""
    name = data.draw(
        st.sampled_from(["twarc2_archive.jsonl", "filtered_stream.jsonl", "twarc2_flatten.jsonl"])
    )
    whole = (REAL / name).read_bytes()
    cut = data.draw(st.integers(min_value=1, max_value=len(whole) - 1))
    file = tmp_path / name
    file.write_bytes(whole[:cut])

    source = ReplaySource(file)
    bodies = [page.body for pull in source.pulls() for page in pull.pages]

    lines = whole[:cut].splitlines(keepends=True)
    complete = [raw for raw in lines if raw.endswith(b"\n") or _is_json(raw)]
    expected = [_expected_body(raw) for raw in complete if raw.strip()]
    assert bodies == expected
    partial = [n for n, raw in enumerate(lines, start=1) if raw not in complete and raw.strip()]
    assert [(p.path, p.line) for p in source.problems] == [(str(file), n) for n in partial]


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True
