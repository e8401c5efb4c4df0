"""tweetlake settings inside Airflow: the environment, plus the bearer token from ``twitter_default``."""

from __future__ import annotations

import logging
import os

from ingestion.config import Secret, Settings, load_settings

log = logging.getLogger(__name__)
TWITTER_CONN_ID = "twitter_default"


def twitter_token(conn_id: str = TWITTER_CONN_ID) -> Secret:
    """The bearer token: the connection's password, else ``TWITTER_BEARER_TOKEN``, else empty."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - a missing connection is normal for the sample source
        return Secret(os.environ.get("TWITTER_BEARER_TOKEN", "").strip())
    return Secret((conn.password or "").strip())


def airflow_settings(source: str) -> Settings:
    """Settings for a task; the token is only looked up when the API is the source."""
    settings = load_settings()
    if source == "api":
        settings = settings.with_overrides(bearer_token=twitter_token())
    return settings
