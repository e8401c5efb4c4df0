"""tweetlake settings inside Airflow: the environment, plus secrets from Airflow connections.

- ``twitter_default``: the API v2 bearer token in the connection's password (else ``TWITTER_BEARER_TOKEN``).
- ``aws_default`` (or ``TWEETLAKE_AWS_CONN_ID``), only for an ``s3://`` lake: login = access key id,
  password = secret key, extra ``aws_session_token``, ``region_name``, ``endpoint_url`` (MinIO, R2, moto).
  The values go into this task process's environment, in memory only, where the AWS chain (s3fs, boto3,
  DuckDB via the lake filesystem, the dbt subprocess) picks them up. Nothing is logged but the connection
  id. Without the connection the usual AWS chain applies (environment, profile, instance role).

Nothing here runs at DAG parse time: tasks call these functions when they start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping

from foundation import secrets
from foundation.settings import Secret, Settings, is_remote, load_settings

log = logging.getLogger(__name__)
TWITTER_CONN_ID = "twitter_default"
AWS_CONN_ID = "aws_default"


def _connection(conn_id: str):  # noqa: ANN202 - an airflow.sdk.Connection, or None
    """The Airflow connection ``conn_id``, or None when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def twitter_token(conn_id: str = TWITTER_CONN_ID) -> Secret:
    """The bearer token: the connection's password, else ``TWITTER_BEARER_TOKEN``, else empty."""
    conn = _connection(conn_id)
    token = os.environ.get("TWITTER_BEARER_TOKEN", "") if conn is None else conn.password or ""
    secrets.register(token)  # out of every record of the task's log, whatever logs it
    return Secret(token.strip())


def export_aws_connection(
    conn_id: str | None = None, environ: MutableMapping[str, str] | None = None
) -> bool:
    """Put the S3 credentials of connection ``conn_id`` into ``environ``; False if it is not defined.

    The connection's values replace the AWS variables it sets. ``TWEETLAKE_S3_ENDPOINT``, when already
    set, wins over the connection's ``endpoint_url`` (it is the more specific setting).
    """
    environ = os.environ if environ is None else environ
    conn_id = conn_id or environ.get("TWEETLAKE_AWS_CONN_ID") or AWS_CONN_ID
    conn = _connection(conn_id)
    if conn is None:
        return False
    extra = conn.extra_dejson or {}
    values = {
        "AWS_ACCESS_KEY_ID": conn.login,
        "AWS_SECRET_ACCESS_KEY": conn.password,
        "AWS_SESSION_TOKEN": extra.get("aws_session_token"),
        "AWS_DEFAULT_REGION": extra.get("region_name"),
    }
    secrets.register(*(str(v) for v in values.values() if v))  # task logs show none of them
    for name, value in values.items():
        if value:
            environ[name] = str(value)
    endpoint = extra.get("endpoint_url") or (extra.get("service_config") or {}).get("s3", {}).get(
        "endpoint_url"
    )
    if endpoint and not environ.get("TWEETLAKE_S3_ENDPOINT"):
        environ["TWEETLAKE_S3_ENDPOINT"] = str(endpoint)
    log.info("S3 credentials from Airflow connection %r", conn_id)
    return True


def airflow_settings(source: str) -> Settings:
    """Settings for a task: the environment, S3 credentials and (for the API) the token from connections."""
    secrets.register_env()  # AWS keys and a token from the worker's own environment
    settings = load_settings()
    if is_remote(settings.lake) and export_aws_connection():
        settings = load_settings()  # the connection may have brought the S3 endpoint
    if source == "api":
        settings = settings.with_overrides(bearer_token=twitter_token())
    return settings
