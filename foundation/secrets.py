"""Known secrets (the bearer token, AWS keys), and the one place that keeps them out of every log record.

A :class:`~foundation.settings.Secret` never shows itself, but libraries see the raw values: tweepy logs
request headers at DEBUG, botocore logs its signed requests (the access key id) at DEBUG, and an exception
from a transport may quote a header. So each process registers the secrets it holds (:func:`register`:
the CLI from its environment, the API source its token, Airflow tasks their connections' values) and
every log record, of any logger, is redacted when it is created (:func:`install`: a log record factory, so
no handler, Airflow's task-log handlers included, ever sees the raw value). :func:`redact` is for the
text we print ourselves (error messages, a ``-v`` traceback).
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "********"
# Shorter values are no real credential (AWS key ids are 20 characters, secret keys 40, bearer tokens
# ~110), while redacting them would mangle ordinary words: moto's and the docs' dummy keys are "test".
MIN_LENGTH = 8
# The environment variables that hold secrets, wherever tweetlake runs.
SECRET_ENV = ("TWITTER_BEARER_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")

_known: set[str] = set()
_lock = threading.Lock()
_installed = False


def register(*secrets: str | None) -> None:
    """Never show these values again: every later log record, and :func:`redact`, replaces them."""
    values = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_LENGTH}
    # a value pasted with a line break in it: each line is as secret as the whole
    values |= {line.strip() for v in values for line in v.splitlines() if len(line.strip()) >= MIN_LENGTH}
    if values:
        with _lock:
            _known.update(values)
        install()


def register_env(env: Mapping[str, str] | None = None) -> None:
    """Register the secrets of the environment (:data:`SECRET_ENV`)."""
    env = os.environ if env is None else env
    register(*(env.get(name) for name in SECRET_ENV))


def known() -> frozenset[str]:
    return frozenset(_known)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every registered secret (and any of ``secrets``) replaced, longest first."""
    values = set(_known) | {s for s in (secrets or ()) if s}
    for secret in sorted(values, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def contains_secret(text: str) -> bool:
    return any(secret in text for secret in _known)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logger's problem; the handler reports it
        return
    if contains_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters print exc_text when set: the traceback, formatted once here, redacted
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if contains_secret(text):
            record.exc_text = redact(text)
    if record.stack_info and contains_secret(record.stack_info):
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every log record when it is created (idempotent; wraps whatever factory is in place)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _known:
                _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
