"""The floor: DuckDB reading the bronze pages and unnesting tweets with an explicit schema.

The least work any build must do: parse every page once and touch every tweet's main fields. Run as a
child process by the runner: ``python -m benchmarks.floor <lake>`` prints the tweet count.
"""

from __future__ import annotations

import sys
from pathlib import Path
from string import Template

import duckdb
import yaml

SOURCES = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging" / "__sources.yml"


def bronze_read(lake: str) -> str:
    """The read_json of every bronze page with the build's explicit schema: the dbt source bronze.pages'
    own external_location, filled in from its meta as dbt-duckdb does (formatter: template)."""
    meta = yaml.safe_load(SOURCES.read_text())["sources"][0]["meta"]
    return Template(meta["external_location"]).substitute({**meta, "lake": lake})


def floor_query(lake: str) -> str:
    return f"""
        select count(*) as tweets, max(t.id), sum(length(t.text)), max(t.created_at),
               sum(t.public_metrics.like_count), max(t.author_id), count(t.entities.hashtags)
        from (select unnest(response.data) as t from {bronze_read(lake)})
    """


def main(lake: str) -> int:
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = false")
    row = con.execute(floor_query(lake)).fetchone()
    assert row is not None  # an aggregate without group by always returns one row
    print(row[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
