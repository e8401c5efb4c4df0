"""The benchmark floor reads every bronze line by its shape, as the build does: pages, single-tweet
messages and flattened tweets each with their schema, a file of one read in place, a cut line in no read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from benchmarks import floor
from foundation.lake import Lake
from ingestion.ingest import ingest
from ingestion.sources.replay import ReplaySource
from tests.bronze_reader import bronze
from tests.bronze_shapes_data import errors_only, line, mixed_file, page, single

DAY = "2026-11-20"
REAL = Path(__file__).parent.parent / "data" / "real"


def bronze_path(name: str, endpoint: str = "search_recent") -> str:
    return f"bronze/source=replay/endpoint={endpoint}/stream=shapes/ingest_date={DAY}/{name}.jsonl"


def test_every_shape_is_read_with_its_schema_and_a_cut_line_is_left_out(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    pages = line(page(["11", "12", "13"]), 1) + line(errors_only(), 2)
    lake.write_bytes(bronze_path("pages"), pages)
    lake.write_bytes(bronze_path("singles", "search_stream"), line(single("21"), 1) + line(single("22"), 2))
    mixed, mixed_ids = mixed_file("3")
    lake.write_bytes(bronze_path("mixed"), mixed + line(page(["39"]), 7)[:-40])  # the last line cut
    plan = floor.split(lake.root, tmp_path / "floor")

    # files of one read are read in place; the mixed one is split, one part per read
    assert lake.url(bronze_path("pages")) in plan["page"]
    assert lake.url(bronze_path("singles", "search_stream")) in plan["single"]
    assert len(plan["page"]) == len(plan["single"]) == 2 and len(plan["flattened"]) == 1
    con = duckdb.connect()
    row = con.execute(floor.floor_query(plan)).fetchone()
    assert row is not None
    tweets, newest, _, _, likes, _, tagged = row
    assert tweets == 3 + 2 + len(mixed_ids) == tagged  # every tweet once, none of the cut line
    assert newest == "34" and likes == 2 * tweets  # each tweet's fields parsed by its read's schema


def test_the_command_prints_the_tweet_count_and_an_empty_lake_has_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_bytes(bronze_path("singles", "tweets_lookup"), line(single("5"), 1) + line(errors_only(), 2))
    for name, root, tweets in (("one", lake.root, "1"), ("none", str(tmp_path / "empty"), "0")):
        folder = str(tmp_path / f"floor-{name}")
        assert floor.main(["split", root, folder]) == 0
        capsys.readouterr()
        assert floor.main([folder]) == 0
        assert capsys.readouterr().out.strip() == tweets


def test_the_real_payloads_of_every_shape_are_read(tmp_path: Path) -> None:
    # replay lands each real fixture as received (the cut line of truncated.jsonl is skipped there): pages,
    # single lookups, stream messages, twarc2 archive pages, flattened tweets, errors-only and empty bodies
    lake = Lake(str(tmp_path / "lake"))
    ingest(ReplaySource(REAL), lake, progress=lambda _: None)
    expected = sum(len(record.tweets) for record in bronze(lake))
    plan = floor.split(lake.root, tmp_path / "floor")
    assert all(plan[read] for read in ("page", "single", "flattened"))
    row = duckdb.connect().execute(floor.floor_query(plan)).fetchone()
    assert row is not None and row[0] == expected > 0
