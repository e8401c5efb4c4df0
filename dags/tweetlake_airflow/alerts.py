"""``on_failure_callback``: a clear log record always; a Slack-compatible webhook when one is configured."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("tweetlake.alerts")
WEBHOOK_CONN_ID = "tweetlake_alerts"


def failure_message(context: dict[str, Any]) -> str:
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", context.get("run_id", "?"))
    exc = context.get("exception")
    reason = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
    return f"tweetlake: task {dag_id}.{task_id} failed in run {run_id}: {reason}"


def alert_on_failure(context: dict[str, Any]) -> None:
    message = failure_message(context)
    log.error(message)
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(WEBHOOK_CONN_ID)
    except Exception:  # noqa: BLE001 - no webhook configured: the log record is the alert
        return
    url = conn.get_uri() if not conn.host or "://" not in (conn.host or "") else conn.host
    try:
        import requests

        requests.post(url, json={"text": message}, timeout=10).raise_for_status()
    except Exception as exc:  # noqa: BLE001 - an alert must never mask the original failure
        log.error("tweetlake: could not post the failure alert to connection %s: %s", WEBHOOK_CONN_ID, exc)
