"""What a compliance run costs on a big lake: ``python -m benchmarks.compliance --size 1M``.

A sample lake of ``--size`` tweets over 30 days is refreshed (ingest, build, validate, publish), then
``tweetlake compliance``'s function runs against the fake API v2 server of the tests over real HTTP
(tweepy, the ids uploaded to its signed URL), with one post in ``--every`` deleted and one user in
``--every-user`` suspended. Printed and written to ``benchmarks/results/compliance-<size>.json``: the jobs
(ids uploaded, seconds), the bronze scan and redaction, the rebuild through the gate, and the purge.
The fake answers at once: on the real API a job takes minutes to hours (its polls, not this lake, are the
wait).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from benchmarks.run import RESULTS, WORK, label, machine, parse_size

DAYS = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1M")
    parser.add_argument("--every", type=int, default=1000, help="one post in N deleted")
    parser.add_argument("--every-user", type=int, default=100, help="one user in N suspended")
    args = parser.parse_args(argv)
    n = parse_size(args.size)
    lake_dir = WORK / f"compliance-{label(n)}"
    shutil.rmtree(lake_dir, ignore_errors=True)
    os.environ.update(
        {
            "TWEETLAKE_LAKE": str(lake_dir / "lake"),
            "TWEETLAKE_WORK_DIR": str(lake_dir / "work"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    # imported here: the environment above decides where they work
    from foundation.lake import Lake
    from foundation.settings import load_settings
    from pipeline import compliance, steps
    from tests.fake_twitter.fixtures import session_for
    from tests.fake_twitter.server import FakeTwitter, FakeTwitterServer

    api = FakeTwitter()
    settings = load_settings({**os.environ, "TWITTER_BEARER_TOKEN": api.token})
    started = time.perf_counter()
    steps.refresh(settings, source_options={"tweets": n, "days": DAYS})
    refresh_s = time.perf_counter() - started
    ids = compliance.lake_ids(Lake.from_settings(settings))
    deleted = ids["tweets"][:: args.every]
    suspended = ids["users"][:: args.every_user]
    api.compliance.events = {
        "tweets": dict.fromkeys(deleted, "deleted"),
        "users": dict.fromkeys(suspended, "suspended"),
    }
    api.compliance.polls = 0
    with FakeTwitterServer(api):
        started = time.perf_counter()
        summary = steps.run_compliance(settings, session=session_for(api.base_url), sleep=lambda _: None)
        total_s = time.perf_counter() - started
    r = summary.redaction
    result = {
        "size": n,
        "label": label(n),
        "machine": machine(),
        "refresh_s": round(refresh_s, 1),
        "ids": {kind: len(v) for kind, v in ids.items()},
        "events": {"tweets": len(deleted), "users": len(suspended)},
        "upload_bytes": sum(len("".join(f"{i}\n" for i in v)) for v in ids.values()),
        "seconds": {**{k: round(v, 1) for k, v in summary.seconds.items()}, "total": round(total_s, 1)},
        "bronze": {
            "objects_scanned": r.files_scanned,
            "objects_rewritten": r.files_rewritten,
            "lines_rewritten": r.lines_rewritten,
            "posts_removed": r.tweets_removed,
            "user_objects_removed": r.users_removed,
        },
        "gold_files_vacuumed": summary.versions_vacuumed,
    }
    print(summary.describe())
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"compliance-{label(n)}.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(lake_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
