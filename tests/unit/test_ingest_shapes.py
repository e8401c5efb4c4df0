"""The shapes of a response body (ingestion.pages) and where a recorded URL lands (replay), on the real
fixtures of tests/data/real/ (their sources: that folder's README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.pages import MalformedPage, Page, page_counts, page_shape
from ingestion.sources.replay import _fast_page, endpoint_from_url

REAL = Path(__file__).parent.parent / "data" / "real"


def lines(name: str) -> list[bytes]:
    """The non-blank lines of a fixture, without their line ends (keep-alives are blank)."""
    return [raw.rstrip(b"\r\n") for raw in (REAL / name).read_bytes().splitlines() if raw.strip()]


@pytest.mark.parametrize(
    ("name", "shape", "counts"),
    [
        ("search_recent.json", "page", (4, 0, "1263145271946551300")),
        ("tweets_lookup.json", "page", (3, 0, "1228393702244134912")),
        ("tweet_lookup_single.json", "single", (1, 0, "1212092628029698048")),
        ("errors_only.json", "errors", (0, 1, "")),
        ("result_count_zero.json", "empty", (0, 0, "")),
    ],
)
def test_each_recorded_body_has_its_shape_and_counts(
    name: str, shape: str, counts: tuple[int, int, str]
) -> None:
    body = (REAL / name).read_bytes()
    doc = json.loads(body)
    assert page_shape(doc) == shape
    assert page_counts(doc) == counts
    page = Page(body, "replay", "real")  # the counts a Page reads itself match
    assert (page.tweet_count, page.error_count, page.newest_id) == counts


def test_a_stream_capture_holds_single_messages_and_an_errors_only_one() -> None:
    docs = [json.loads(line) for line in lines("filtered_stream.jsonl")]
    assert [page_shape(d) for d in docs] == ["single", "single", "single", "errors"]
    assert all("matching_rules" in d for d in docs[:3])
    assert [page_counts(d)[:2] for d in docs] == [(1, 0), (1, 0), (1, 0), (0, 1)]


def test_every_flattened_line_is_one_tweet_whose_id_is_the_newest() -> None:
    docs = [json.loads(line) for line in lines("twarc2_flatten.jsonl")]
    assert len(docs) == 7
    for doc in docs:
        assert page_shape(doc) == "flattened"
        assert page_counts(doc) == (1, 0, doc["id"])


def test_shapes_that_are_none_of_them_are_malformed() -> None:
    with pytest.raises(MalformedPage, match="a JSON list"):
        page_shape([1, 2])
    with pytest.raises(MalformedPage, match="neither a list nor an object"):
        page_shape({"data": "x"})
    assert page_shape({"meta": {"result_count": 0}}) == "empty"
    assert page_shape({"id": "1", "text": "t", "meta": {"result_count": 1}}) == "empty"  # not a tweet


def test_the_fast_path_counts_every_real_line_like_the_json_path() -> None:
    checked = 0
    for name in ("filtered_stream.jsonl", "twarc2_archive.jsonl", "twarc2_flatten.jsonl"):
        for line in lines(name):
            doc = json.loads(line)
            fast = _fast_page(line)
            assert fast is not None, (name, line[:80])
            twarc = doc.pop("__twarc", None)
            assert fast == (*page_counts(doc), twarc)
            checked += 1
    assert checked == 4 + 3 + 7
    cut = lines("truncated.jsonl")[1]
    assert _fast_page(cut) is None  # the json path reports it


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.twitter.com/2/tweets/search/recent?query=%23duckdb&max_results=100",
            ("search_recent", "#duckdb"),
        ),
        ("https://api.x.com/2/tweets/search/all?query=ducks", ("search_all", "ducks")),
        ("https://api.twitter.com/2/users/2244994945/tweets?max_results=100", ("user_tweets", "2244994945")),
        ("https://api.twitter.com/2/users/2244994945/mentions", ("user_mentions", "2244994945")),
        ("https://api.twitter.com/2/tweets/search/stream?expansions=author_id", ("search_stream", None)),
        ("https://api.twitter.com/2/tweets/sample/stream", ("sample_stream", None)),
        ("https://api.twitter.com/2/tweets/sample10/stream?partition=1", ("sample_stream", None)),
        ("https://api.twitter.com/2/tweets?ids=1,2,3", ("tweets_lookup", None)),
        ("https://api.twitter.com/2/tweets/1212092628029698048", ("tweets_lookup", None)),
        ("https://api.twitter.com/2/users/by/username/TwitterDev", ("replay", None)),
    ],
)
def test_a_recorded_url_names_its_endpoint_and_stream(url: str, expected: tuple[str, str | None]) -> None:
    assert endpoint_from_url(url) == expected
