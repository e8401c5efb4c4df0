"""The baseline: the tutorials' pandas approach, on the same bronze.

Load each page, ``json_normalize`` the tweets, merge the users, drop duplicates, write CSV and Parquet.
Run as a child process: ``python -m benchmarks.baseline_pandas <lake> <out_dir>``.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import pandas as pd


def main(lake: str, out_dir: str) -> int:
    frames, users = [], []
    for path in sorted(glob.glob(f"{lake}/bronze/source=*/endpoint=*/stream=*/ingest_date=*/*.jsonl")):
        if "/endpoint=counts_" in path:  # counts pages: buckets, not tweets
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                page = json.loads(line)["response"]
                if page.get("data"):
                    frames.append(pd.json_normalize(page["data"]))
                if page.get("includes", {}).get("users"):
                    users.append(pd.json_normalize(page["includes"]["users"]))
    tweets = pd.concat(frames, ignore_index=True)
    people = pd.concat(users, ignore_index=True).drop_duplicates("id", keep="last")
    people = people.add_prefix("user.")
    df = tweets.merge(people, how="left", left_on="author_id", right_on="user.id")
    df = df.drop_duplicates("id", keep="last")
    os.makedirs(out_dir, exist_ok=True)
    df.to_csv(os.path.join(out_dir, "tweets.csv"), index=False)
    df.astype({c: "string" for c in df.columns if df[c].dtype == object}).to_parquet(
        os.path.join(out_dir, "tweets.parquet"), index=False
    )
    print(len(df))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
