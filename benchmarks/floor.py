"""The floor: DuckDB reading the bronze pages and unnesting tweets with an explicit schema.

The least work any build must do: parse every page once and touch every tweet's main fields. Run as a
child process by the runner: ``python -m benchmarks.floor <lake>`` prints the tweet count.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import yaml

SOURCES = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "silver" / "__sources.yml"


def bronze_columns(kind: str = "full") -> str:
    """The explicit schema the dbt build reads bronze with (macro bronze_columns; parts in __sources.yml)."""
    meta = {
        k: re.sub(r"\s+", " ", str(v)).strip()
        for k, v in yaml.safe_load(SOURCES.read_text())["sources"][0]["meta"].items()
    }
    data = meta["tweet"] if kind != "pages" else "struct(id varchar)"
    includes = f"includes struct(users {meta['user']}[], tweets {meta['included_tweet']}[])"
    if kind == "tweets":
        rest = f", includes struct(users {meta['page_user']}[])"
    else:
        rest = f", {includes}, errors {meta['error']}[]"
    return f"{{'envelope': '{meta['envelope']}', 'response': 'struct(data {data}[]{rest})'}}"


def floor_query(lake: str) -> str:
    glob = f"{lake}/bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl"
    return f"""
        select count(*) as tweets, max(t.id), sum(length(t.text)), max(t.created_at),
               sum(t.public_metrics.like_count), max(t.author_id), count(t.entities.hashtags)
        from (
            select unnest(response.data) as t
            from read_json('{glob}', format = 'newline_delimited', hive_partitioning = true,
                           columns = {bronze_columns()})
        )
    """


def main(lake: str) -> int:
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = false")
    tweets = con.execute(floor_query(lake)).fetchone()[0]
    print(tweets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
