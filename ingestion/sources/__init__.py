"""Where pages come from: the Twitter API (``api``), recorded pages (``replay``), generated ones (``sample``)."""

from __future__ import annotations

from typing import Any

from ingestion.config import ConfigError, Settings
from ingestion.sources.base import Pull, Source

SOURCES = ("sample", "replay", "api")


def make_source(kind: str, settings: Settings, **options: Any) -> Source:
    """The source named ``kind`` configured from ``settings`` and ``options``.

    - sample: ``tweets``, ``days``, ``end_date``, ``seed`` (queries from settings)
    - replay: ``path`` (a .json/.jsonl file or a folder of them)
    - api: ``start_time``/``end_time`` (a window), ``session`` (a requests session, for tests)
    """
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "sample":
        from ingestion.sources.sample import SampleSource

        return SampleSource(queries=settings.queries, **options)
    if kind == "replay":
        from ingestion.sources.replay import ReplaySource

        if "path" not in options:
            raise ConfigError("replay needs --path: a recorded response page, twarc2 archive or folder")
        return ReplaySource(**options)
    if kind == "api":
        from ingestion.sources.api import ApiSource

        return ApiSource(bearer_token=settings.bearer_token, queries=settings.queries,
                         accounts=settings.accounts, timeout=settings.request_timeout, **options)
    raise ConfigError(f"unknown source {kind!r}: choose one of {', '.join(SOURCES)}")


__all__ = ["SOURCES", "Pull", "Source", "make_source"]
