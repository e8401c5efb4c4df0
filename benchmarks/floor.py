"""The floor: DuckDB reading the bronze pages and unnesting tweets with the build's explicit schema.

The least work any build must do: parse every bronze line once and touch every tweet's main fields. A line
is one of several shapes (foundation/bronze_shapes.py) and read_json takes one schema per read, so, like
the build (dbt_runtime/bronze_read.py, macro bronze_pages), each line is read by the read of its shape:
``page`` (``data`` a list; errors-only and empty messages too), ``single`` (``data`` an object) and
``flattened`` (the tweet at top level). The schema of each read is the dbt source bronze.pages' own:
its external_location for pages, the same with ``data`` one tweet for singles, the tweet and its author
for flattened lines.

Two commands, so that only DuckDB's parse is timed:

- ``python -m benchmarks.floor split <lake> <folder>``: which read takes each line, decided by the build's
  own classifier (:func:`dbt_runtime.bronze_read.classify_files`): a file of one read is read in place,
  the lines of a mixed file are copied byte for byte into one file per read in ``folder``; lines the
  build sets aside are in no read. The runner does this before the measured step, so the floor does not
  count the classification the build pays for: the floor stays a lower bound.
- ``python -m benchmarks.floor <folder>``: the measured read; prints the tweet count.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from string import Template

import duckdb
import yaml

from dbt_runtime.bronze_read import READS, TWEET_READS, classify_files
from foundation.lake import Lake
from foundation.lakefiles import list_files
from foundation.sql import literal

SOURCES = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging" / "__sources.yml"
PLAN = "reads.json"
# read_json('<glob>', ..., columns = {...}): the source's location, its glob and its columns
_LOCATION = re.compile(r"read_json\('(?P<glob>[^']+)'.*columns\s*=\s*(?P<columns>\{.*\})\)\s*$", re.DOTALL)
# the tweets a row of each read holds, as ``t``
_TWEETS = {
    "page": "select unnest(response.data) as t from {read}",
    "single": "select response.data as t from {read} where response.data is not null",
    "flattened": "select response as t from {read}",
}


def _location() -> tuple[dict[str, str], re.Match[str]]:
    meta: dict[str, str] = yaml.safe_load(SOURCES.read_text())["sources"][0]["meta"]
    found = _LOCATION.search(meta["external_location"])
    if found is None:
        raise ValueError(
            f"{SOURCES}: bronze.pages' external_location is not read_json('<glob>', ..., columns)"
        )
    return meta, found


def bronze_glob(lake: str) -> str:
    """Every bronze file: the glob of the source's external_location, filled in for ``lake``."""
    meta, found = _location()
    return Template(found["glob"]).substitute({**meta, "lake": lake})


def read_columns() -> dict[str, str]:
    """The ``columns`` argument of read_json for each read: the source's page schema, and the same for a
    single tweet (``data`` one tweet) and for a flattened one (the tweet's fields and its author).

    The tweet's type is taken from the page schema itself (``data <tweet>[]``), whatever parts the source's
    meta assembles it from."""
    meta, found = _location()
    page: dict[str, str] = ast.literal_eval(Template(found["columns"]).substitute(meta))
    response = page["response"]
    at, end = _data_type(response)
    tweet = response[at : end - 2]
    responses = {
        "page": response,
        "single": response[:at] + tweet + response[end:],
        # the tweet struct plus its author (a whole user, as a page's includes.users), as macro
        # bronze_columns builds the flattened read
        "flattened": f"{tweet[:-1]}, author {meta['user'].strip()})",
    }
    return {
        read: "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in {**page, "response": r}.items()) + "}"
        for read, r in responses.items()
    }


def _data_type(response: str) -> tuple[int, int]:
    """Where ``<tweet>[]`` is in ``struct(data <tweet>[], ...)``: the first member's type, to its comma."""
    head = "struct(data "
    depth, quoted = 0, False
    if response.startswith(head):
        for i in range(len(head), len(response)):
            char = response[i]
            if char == '"':
                quoted = not quoted
            elif quoted:
                continue
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "," and depth == 0:
                if response[i - 3 : i] == ")[]":
                    return len(head), i
                break
    raise ValueError(f"{SOURCES}: the page schema is not struct(data struct(...)[], ...): {response[:80]}")


def split(lake: str, folder: Path) -> dict[str, list[str]]:
    """The files each read takes (``folder``/reads.json), the lines of mixed files split into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    plan: dict[str, list[str]] = {read: [] for read in READS}
    rejected = 0
    for parts in classify_files(lake, None, list_files(bronze_glob(lake)), folder=folder):
        rejected += len(parts["rejected"])
        for read in READS:
            if parts[read] is not None:
                plan[read].append(parts[read])
    if rejected:  # the build sets them aside too (silver.rejected_pages): say so, they are not in the floor
        print(f"floor: {rejected} bronze lines set aside, as the build does", file=sys.stderr)
    (folder / PLAN).write_text(json.dumps({"lake": lake, "reads": plan}, indent=1) + "\n")
    return plan


def floor_query(plan: dict[str, list[str]]) -> str:
    """One aggregate over the tweets of every read, each read with its columns."""
    columns = read_columns()
    parts = []
    for read in TWEET_READS:  # counts pages hold no tweets
        files = plan.get(read) or []
        if not files:
            continue
        paths = "[" + ", ".join(literal(p) for p in files) + "]"
        source = f"read_json({paths}, format = 'newline_delimited', columns = {columns[read]})"
        parts.append(
            "select t.id, t.text, t.created_at, t.public_metrics.like_count as likes, t.author_id, "
            f"t.entities.hashtags as hashtags from ({_TWEETS[read].format(read=source)})"
        )
    if not parts:  # an empty lake: no tweets
        parts.append(
            "select null::varchar as id, null::varchar as text, null::varchar as created_at, "
            "null::bigint as likes, null::varchar as author_id, null::varchar[] as hashtags where false"
        )
    tweets = "\n    union all\n    ".join(parts)
    return f"""
        select count(*) as tweets, max(id), sum(length(text)), max(created_at), sum(likes), max(author_id),
               count(hashtags)
        from (
    {tweets}
        )
    """


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "split":
        split(argv[1], Path(argv[2]))
        return 0
    if len(argv) != 1:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    plan = json.loads((Path(argv[0]) / PLAN).read_text())
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = false")
    Lake(plan["lake"]).register_with(con)
    row = con.execute(floor_query(plan["reads"])).fetchone()
    assert row is not None  # an aggregate without group by always returns one row
    print(row[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
