"""The two readers of a bronze line agree on its schema: the classifier's msgspec types
(foundation/bronze_shapes.py, which decide what DuckDB may read) name exactly the fields of the build's
DuckDB schema (the dbt source's meta, models/staging/__sources.yml), at every depth. A field added to one
and not the other would let a line pass the classifier and fail or half-read the build, or the reverse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest
import yaml

from foundation import bronze_shapes as shapes

SOURCES = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "staging" / "__sources.yml"


def meta() -> dict[str, str]:
    [source] = yaml.safe_load(SOURCES.read_text())["sources"]
    return {k: v.strip() for k, v in source["meta"].items() if isinstance(v, str)}


def duck_fields(sql_type: str) -> dict[str, Any]:
    """A DuckDB type's struct fields, nested: {name: sub-fields or None for a leaf}; lists see through."""

    def walk(t: Any) -> Any:
        while t.id == "list":
            t = t.children[0][1]
        return {name: walk(child) for name, child in t.children} if t.id == "struct" else None

    return walk(duckdb.sql(f"select cast(null as {sql_type}) as x").types[0])


def msgspec_fields(cls: Any) -> Any:
    """The same for a msgspec Struct (lists, optionals and unions of a struct see through)."""

    def walk(info: Any) -> Any:
        if isinstance(info, msgspec.inspect.UnionType):
            structs = [
                t for t in info.types if isinstance(t, (msgspec.inspect.StructType, msgspec.inspect.ListType))
            ]
            return walk(structs[0]) if structs else None
        if isinstance(info, msgspec.inspect.ListType):
            return walk(info.item_type)
        if isinstance(info, msgspec.inspect.StructType):
            return {f.encode_name: walk(f.type) for f in info.fields}
        return None

    return walk(msgspec.inspect.type_info(cls))


PARTS = {
    "envelope": shapes._Envelope,
    "user": shapes._User,
    "media": shapes._Media,
    "poll": shapes._Poll,
    "place": shapes._Place,
    "reference": shapes._Reference,
}


@pytest.mark.parametrize("part", sorted(PARTS))
def test_each_part_names_the_same_fields(part: str) -> None:
    assert msgspec_fields(PARTS[part]) == duck_fields(meta()[part])


def test_a_tweet_names_the_same_fields() -> None:
    m = meta()
    tweet = f"struct({m['tweet_fields']}, referenced_tweets {m['reference']}[])"
    assert msgspec_fields(shapes._Tweet) == duck_fields(tweet)


def test_an_included_tweet_of_the_pages_read_is_a_subset_of_a_tweet() -> None:
    # the pages read (users, media...) takes only what referenced_tweets needs of includes.tweets; the
    # classifier checks them as whole tweets (the tweets read observes them)
    included, tweet = duck_fields(meta()["included_tweet"]), msgspec_fields(shapes._Tweet)
    assert set(included) <= set(tweet) and included["note_tweet"].items() <= tweet["note_tweet"].items()
