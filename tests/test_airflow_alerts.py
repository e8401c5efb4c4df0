"""The failure callback: always a log record; a Slack-compatible POST when ``tweetlake_alerts`` exists."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from orchestration.alerts import alert_on_failure, alert_on_run_failure, webhook_url
from tests.fixtures_airflow import WebhookReceiver
from tests.fixtures_lake import free_port


def failure_context() -> dict:
    ti = SimpleNamespace(
        dag_id="tweetlake_refresh", task_id="validate_silver", run_id="scheduled__2026-11-20T14", map_index=-1
    )
    ti.try_number = 1
    return {"task_instance": ti, "exception": RuntimeError("quality gate failed: like_count < 0")}


def test_alert_posts_slack_json_and_logs(
    webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TWEETLAKE_ALERTS", json.dumps({"conn_type": "http", "password": webhook.url})
    )
    with caplog.at_level(logging.INFO, logger="tweetlake.alerts"):
        alert_on_failure(failure_context())
    assert webhook.posts == [
        {
            "text": "tweetlake: task tweetlake_refresh.validate_silver failed (try 1) in run "
            "scheduled__2026-11-20T14: RuntimeError: quality gate failed: like_count < 0"
        }
    ]
    errors = [r for r in caplog.records if r.name == "tweetlake.alerts" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "validate_silver failed" in errors[0].getMessage()
    assert webhook.url not in caplog.text, "the webhook URL is a secret"


def test_run_level_alert_only_for_failures_no_task_reported(
    webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TWEETLAKE_ALERTS", json.dumps({"conn_type": "http", "password": webhook.url})
    )
    dag_run = SimpleNamespace(dag_id="tweetlake_refresh", run_id="scheduled__2026-11-20T14")
    alert_on_run_failure({"dag_run": dag_run, "reason": "task_failure"})
    assert webhook.posts == [], "a failed task already alerted; the run must not alert twice"
    alert_on_run_failure({"dag_run": dag_run, "reason": "timed_out"})
    assert len(webhook.posts) == 1
    assert "tweetlake_refresh scheduled__2026-11-20T14 failed: timed_out" in webhook.posts[0]["text"]


def test_without_a_connection_the_log_record_is_the_alert(
    webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_TWEETLAKE_ALERTS", raising=False)
    with caplog.at_level(logging.INFO, logger="tweetlake.alerts"):
        alert_on_failure(failure_context())
    assert webhook.posts == []
    assert "tweetlake_refresh.validate_silver failed" in caplog.text


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_broken_webhook_never_raises_nor_leaks_its_url(
    scheme: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret_path = "/services/T000/B000/very-secret-token"
    url = f"{scheme}://127.0.0.1:{free_port()}{secret_path}"  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_TWEETLAKE_ALERTS", json.dumps({"conn_type": "http", "password": url}))
    with caplog.at_level(logging.INFO, logger="tweetlake.alerts"):
        alert_on_failure(failure_context())  # must not raise
    assert "could not post the failure alert" in caplog.text
    assert "very-secret-token" not in caplog.text


def test_webhook_url_from_the_connection_fields() -> None:
    def conn(**fields: object) -> SimpleNamespace:
        base = {
            "extra_dejson": {},
            "password": None,
            "host": None,
            "conn_type": "http",
            "port": None,
            "schema": None,
        }
        return SimpleNamespace(**{**base, **fields})

    assert webhook_url(conn(extra_dejson={"webhook_url": "https://x/y"})) == "https://x/y"
    assert (
        webhook_url(conn(password="https://hooks.example/services/T/B/Z"))
        == "https://hooks.example/services/T/B/Z"
    )
    assert webhook_url(conn(host="https://hooks.example/a")) == "https://hooks.example/a"
    assert (
        webhook_url(conn(host="127.0.0.1", port=8065, schema="hooks/abc"))
        == "http://127.0.0.1:8065/hooks/abc"
    )
    assert webhook_url(conn()) is None
