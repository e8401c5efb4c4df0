"""Where pages come from: the Twitter API (``api``), recorded pages (``replay``), generated (``sample``)."""

from __future__ import annotations

from typing import Any

from foundation.layout import SOURCES
from foundation.settings import ConfigError, Settings
from ingestion.sources.base import Pull, Source


def make_source(kind: str, settings: Settings, **options: Any) -> Source:
    """The source named ``kind`` configured from ``settings`` and ``options`` (``None`` options are ignored).

    - ``sample`` (:class:`~ingestion.sources.sample.SampleSource`): ``tweets`` (default 3000), ``days``
      (default 3), ``end_date`` (a date, default today UTC), ``seed`` (default 42); optionally ``workers``
      (processes rendering pages; default: 2 from 300k tweets on), ``page_size``, ``users``,
      ``single_shapes`` (default true: also a filtered stream capture and single-tweet lookups). Queries
      and accounts come from ``settings``: each query is a ``search_recent`` stream, each account a
      ``user_tweets`` and a ``user_mentions`` stream.
    - ``replay`` (:class:`~ingestion.sources.replay.ReplaySource`): ``path``, a recorded response body
      (``.json``), a ``.jsonl`` file (twarc2 archive, ``twarc2 flatten`` output, stream capture) or a
      folder of them; optionally ``ingest_date``.
    - ``api`` (:class:`~ingestion.sources.api.ApiSource`): ``start_time``/``end_time`` (datetimes or ISO
      8601 strings; both or neither: neither means incremental from the since_id watermarks); ``session``
      (a ``requests.Session``, for tests); ``sleep``/``clock`` (for tests). Token, queries, accounts,
      request timeout and rate-limit wait cap come from ``settings``; ``conversations`` (follow the
      conversations of what is landed) defaults to ``settings.conversations``.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "sample":
        from ingestion.sources.sample import SampleSource

        try:
            return SampleSource(queries=settings.queries, accounts=settings.accounts, **options)
        except ValueError as exc:
            raise ConfigError(f"sample source: {exc}") from exc
    if kind == "replay":
        from pathlib import Path

        from ingestion.sources.replay import ReplaySource

        if "path" not in options:
            raise ConfigError("replay needs --path: a recorded response page, twarc2 archive or folder")
        return ReplaySource(**{**options, "path": Path(options["path"])})
    if kind == "api":
        from ingestion.sources.api import ApiSource

        return ApiSource(
            bearer_token=settings.bearer_token,
            queries=settings.queries,
            accounts=settings.accounts,
            timeout=settings.request_timeout,
            max_rate_limit_wait=settings.max_rate_limit_wait,
            max_posts=settings.max_posts_per_run,
            monthly_posts=settings.monthly_post_budget,
            **{
                "conversations": settings.conversations,
                "query_max_length": settings.query_max_length,
                **options,
            },
        )
    raise ConfigError(f"unknown source {kind!r}: choose one of {', '.join(SOURCES)}")


__all__ = ["SOURCES", "Pull", "Source", "make_source"]
