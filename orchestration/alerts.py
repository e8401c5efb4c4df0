"""``on_failure_callback``: a clear log record always; a Slack-compatible webhook when one is configured.

The webhook is the Airflow connection ``tweetlake_alerts`` (or ``TWEETLAKE_ALERTS_CONN_ID``). Its URL is
taken from, in order: the extra ``webhook_url``; the password, when it is a URL (recommended: Airflow masks
it everywhere, and a Slack webhook URL is a secret); the host, when it is a full URL; else it is built from
type (``http``/``https``), host, port and schema (the path). The message is POSTed as ``{"text": ...}``,
which Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible hooks accept. The URL is never logged.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("tweetlake.alerts")
WEBHOOK_CONN_ID = "tweetlake_alerts"
MAX_REASON = 1500


def failure_message(context: dict[str, Any]) -> str:
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    try_number = getattr(ti, "try_number", None)
    exc = context.get("exception")
    reason = f"{type(exc).__name__}: {exc}" if exc else "unknown error (see the task log)"
    if len(reason) > MAX_REASON:
        reason = reason[:MAX_REASON] + " ..."
    attempt = f" (try {try_number})" if try_number else ""
    return f"tweetlake: task {dag_id}.{task_id} failed{attempt} in run {run_id}: {reason}"


def webhook_url(conn: Any) -> str | None:
    """The webhook URL a connection holds (see the module docstring), or None."""
    extra = conn.extra_dejson or {}
    if extra.get("webhook_url"):
        return str(extra["webhook_url"])
    password = (conn.password or "").strip()
    if password.startswith(("http://", "https://")):
        return password
    host = (conn.host or "").strip()
    if "://" in host:
        return host
    if not host:
        return None
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    path = (conn.schema or "").lstrip("/")
    return f"{scheme}://{host}{port}/{path}"


def send_webhook(url: str, message: str, timeout: float = 10.0) -> None:
    """POST ``{"text": message}``; raise with the HTTP status (never the URL) when it fails."""
    import requests

    try:
        response = requests.post(url, json={"text": message}, timeout=timeout)
    except requests.RequestException as exc:
        raise RuntimeError(f"{type(exc).__name__} while posting the alert") from None
    if response.status_code >= 400:
        raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


def run_failure_message(context: dict[str, Any]) -> str | None:
    """For the DAG-level callback: a message when the run failed for a reason no task alerted about."""
    reason = str(context.get("reason") or "")
    if reason in ("", "task_failure"):
        return None  # a failed task already sent its own, more precise alert
    dag_run = context.get("dag_run")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id", "?")
    return f"tweetlake: DAG run {dag_id} {run_id} failed: {reason} (e.g. dagrun_timeout)"


def alert_on_run_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of the DAG: alerts on run failures no task reported (a timeout)."""
    message = run_failure_message(context)
    if message:
        _alert(message)


def alert_on_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every task."""
    _alert(failure_message(context))


def _alert(message: str) -> None:
    log.error(message)
    conn_id = os.environ.get("TWEETLAKE_ALERTS_CONN_ID") or WEBHOOK_CONN_ID
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            return  # no webhook configured: the log record is the alert
        url = webhook_url(conn)
        if not url:
            log.error("tweetlake: connection %s has no webhook URL; alert only logged", conn_id)
            return
        send_webhook(url, message)
        log.info("tweetlake: failure alert sent to the webhook of connection %s", conn_id)
    except Exception as exc:  # noqa: BLE001 - an alert must never mask the original failure
        log.error("tweetlake: could not post the failure alert (connection %s): %s", conn_id, exc)
