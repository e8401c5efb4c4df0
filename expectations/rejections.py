"""The gate's rule on bronze lines the build set aside (silver.rejected_pages): a share per source.

A line that could not be read (malformed or truncated JSON, none of the shapes, a failed cast) is left out
of silver, so silver is whole only up to those lines. The gate fails when a source's share of rejected lines
(rejected / all non-blank lines) is above the allowed share, and lists them below it. The share is
``TWEETLAKE_MAX_REJECTED_SHARE`` for every source when set; otherwise 0 for the ``api`` source (the API
sends whole pages: any rejection there is a fault to look at) and 1% for the others (recorded archives,
replays, the sample source: a cut last line of a capture is common and is said, not fatal).
"""

from __future__ import annotations

from expectations.results import Failure

DEFAULT_SHARE = {"api": 0.0}
OTHER_SHARE = 0.01
SUITE = "silver.rejected_pages"


def allowed_share(source: str, setting: float | None) -> float:
    return setting if setting is not None else DEFAULT_SHARE.get(source, OTHER_SHARE)


def judge(totals: dict[str, dict[str, int]], setting: float | None) -> tuple[list[Failure], list[str]]:
    """The failures (a source above its share) and the listing of every source with rejections."""
    failures: list[Failure] = []
    listed: list[str] = []
    for source, counts in sorted(totals.items()):
        rejected = counts["rejected"]
        if not rejected:
            continue
        lines = counts["pages"] + rejected
        share, allowed = rejected / lines, allowed_share(source, setting)
        tweets = counts["rejected_tweets"]
        said = (
            f"source={source}: {rejected:,} of {lines:,} bronze lines set aside ({share:.2%}, allowed "
            f"{allowed:.2%})"
            + (f", at least {tweets:,} tweet(s) in those that still parse" if tweets else "")
            + "; see silver.rejected_pages"
        )
        listed.append(said)
        if share > allowed:
            failures.append(
                Failure(
                    SUITE,
                    "rejected share at most TWEETLAKE_MAX_REJECTED_SHARE",
                    None,
                    rejected,
                    [],
                    description=said,
                    element_count=lines,
                    observed=round(share, 6),
                )
            )
    return failures, listed
