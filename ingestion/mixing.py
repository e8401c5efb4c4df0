"""Generated and real tweets never share a lake unless asked to: the guard every ingest passes first.

The sample source generates tweets; ``api`` and ``replay`` land real ones. Silver and gold read every
bronze source alike, so a sample ingest into a lake of real pages (a demo pointed at the production
``TWEETLAKE_LAKE``, a DAG left on its demo source) would publish invented tweets beside real ones, and
nothing downstream could tell them apart. The guard looks at which sources the lake already holds (its
bronze partitions and run journals: one listing each) and refuses to land generated pages among real
ones, or real pages among generated ones, unless the caller forces it. ``api`` and ``replay`` mix freely:
both are real API v2 pages (a replayed archive often backfills what the API can no longer reach).
"""

from __future__ import annotations

import posixpath

from foundation.lake import Lake
from foundation.layout import BRONZE, RUN_JOURNALS
from foundation.settings import ConfigError

GENERATED = frozenset({"sample"})
FORCE_FLAG = "--allow-mixed-sources"


class SourcesWouldMix(ConfigError):
    """An ingest would land generated tweets among real ones (or the reverse); the message says how to
    point it at another lake or force it."""


def lake_sources(lake: Lake) -> set[str]:
    """The sources whose pages the lake holds: its ``source=`` partitions of bronze and of the run journals
    (the journals outlive bronze objects someone pruned)."""
    found: set[str] = set()
    for folder in (BRONZE, RUN_JOURNALS):
        for rel in lake.glob(f"{folder}/source=*"):
            found.add(posixpath.basename(rel).removeprefix("source="))
    return found


def check_sources(lake: Lake, source: str, *, allow_mixed: bool = False, force: str = FORCE_FLAG) -> None:
    """Raise :class:`SourcesWouldMix` if ``source`` would mix generated and real tweets in ``lake``.

    ``force`` names the override in the message (the CLI's flag; the DAG names its param)."""
    if allow_mixed:
        return
    generated = source in GENERATED
    clash = sorted(s for s in lake_sources(lake) if (s in GENERATED) != generated)
    if not clash:
        return
    held = ", ".join(f"bronze/source={s}" for s in clash)
    if generated:
        what = (
            f"lake {lake.root} holds real tweets ({held}): the {source} source's generated tweets would "
            "mix with them in silver and gold, and nothing downstream could tell them apart."
        )
    else:
        what = (
            f"lake {lake.root} holds generated sample tweets ({held}): real tweets from the {source} "
            "source would mix with them in silver and gold."
        )
    raise SourcesWouldMix(
        f"{what} Point the ingest at another lake (--lake or TWEETLAKE_LAKE), or pass {force} to land "
        "them in this one anyway."
    )
