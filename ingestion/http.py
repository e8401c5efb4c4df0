"""HTTP plumbing for the API source: request timeouts, rate limits, retries, and keeping the token secret.

Nothing here knows about tweets. :class:`RateLimiter` reads the ``x-rate-limit-*`` headers of every
response and decides how long to wait; :class:`Backoff` is the retry policy of one request (tenacity):
transient failures retried with exponential backoff, rate-limit waits slept without counting;
:func:`with_timeout` makes every request of a ``requests`` session time out; :func:`protect_secret`
keeps a token out of log records (tweepy logs its request headers, bearer token included, at DEBUG).
The clock and the sleep are injectable so tests exercise the real decisions without waiting.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import tenacity

from foundation import secrets

log = logging.getLogger(__name__)

REDACTED = secrets.REDACTED
USAGE_CAPPED = "https://api.twitter.com/2/problems/usage-capped"
# Wait after a 429 that names no reset time (the API always sends one; proxies may not).
DEFAULT_429_WAIT = 60.0


class ApiError(RuntimeError):
    """The API refused or failed; the message names the likely cause and never contains the token."""


class RateLimitError(ApiError):
    """A rate limit or usage cap that waiting within ``max_rate_limit_wait`` does not clear."""


# -- secrets -------------------------------------------------------------------------------------------------
def protect_secret(secret: str) -> None:
    """Keep ``secret`` out of every log record of this process, whichever logger (tweepy's request headers
    at DEBUG, a transport's error quoting them): :mod:`foundation.secrets`."""
    secrets.register(secret)


def redact(text: str, extra: set[str] | tuple[str, ...] | list[str] = ()) -> str:
    """``text`` without any registered secret, nor any of ``extra``."""
    return secrets.redact(text, extra)


# -- timeouts ------------------------------------------------------------------------------------------------
def with_timeout(session: requests.Session, timeout: float) -> requests.Session:
    """Give every request of ``session`` a timeout unless the caller passes one (tweepy never does)."""
    current = getattr(session, "_tweetlake_timeout", None)
    if current is not None:
        session._tweetlake_timeout = timeout  # type: ignore[attr-defined]
        return session
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = session._tweetlake_timeout  # type: ignore[attr-defined]
        return original(method, url, *args, **kwargs)

    session._tweetlake_timeout = timeout  # type: ignore[attr-defined]
    # requests' stubs type request() parameter by parameter; the wrapper passes them all through as is
    session.request = request  # type: ignore[method-assign,assignment]
    return session


# -- rate limits ---------------------------------------------------------------------------------------------
def drop_unreadable_rate_limit_headers(session: requests.Session) -> requests.Session:
    """Remove an ``x-rate-limit-*`` header that is not a whole number from every response of ``session``.

    tweepy reads ``int(x-rate-limit-reset)`` of a 429 itself and would fail with a bare ValueError on
    anything else (a proxy's date, a fraction); without the header the 429 is waited for like one that has
    none (:meth:`RateLimiter.after_429`). Only headers change: the body lands in bronze as received."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        for key in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
            value = response.headers.get(key)
            if value is not None and not value.strip().isdigit():
                log.warning("ignoring the header %s: %r, not a whole number", key, value[:40])
                del response.headers[key]

    hooks = session.hooks.setdefault("response", [])
    if not any(getattr(h, "__name__", "") == hook.__name__ for h in hooks):
        hooks.append(hook)
    return session


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, int] | None:
    """``{"limit", "remaining", "reset"}`` from the ``x-rate-limit-*`` headers, or None without them."""
    out = {}
    for key in ("limit", "remaining", "reset"):
        value = headers.get(f"x-rate-limit-{key}")
        if value is not None and str(value).strip().isdigit():
            out[key] = int(value)
    return out or None


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%SZ")


@dataclass
class Wait:
    """A decision to wait ``seconds`` before the next request to an endpoint, and why."""

    seconds: float
    message: str


@dataclass
class RateLimiter:
    """Per-endpoint rate-limit windows from response headers, and the waits they call for.

    ``max_wait`` caps any single wait: a window that resets later than that is an error, never a silent
    hour-long sleep. ``clock`` returns epoch seconds, like the ``x-rate-limit-reset`` header.
    """

    max_wait: float = 900.0
    clock: Callable[[], float] = time.time
    windows: dict[str, dict[str, int]] = field(default_factory=dict)

    def update(self, endpoint: str, headers: Mapping[str, str]) -> dict[str, int] | None:
        """Record the window a response reports; returns it (for the page's envelope)."""
        window = rate_limit_headers(headers)
        if window is not None:
            self.windows[endpoint] = window
        return window

    def before_request(self, endpoint: str) -> Wait | None:
        """A wait if the endpoint's window is known to be spent (remaining 0) and not reset yet."""
        window = self.windows.get(endpoint)
        if not window or window.get("remaining", 1) > 0 or "reset" not in window:
            return None
        seconds = window["reset"] - self.clock() + 1
        if seconds <= 0:
            self.windows.pop(endpoint, None)
            return None
        limit = f" of {window['limit']} requests" if "limit" in window else ""
        self._check_cap(endpoint, seconds, f"the rate-limit window{limit} for {endpoint} is spent")
        self.windows.pop(endpoint, None)
        return Wait(
            seconds,
            f"rate limit{limit} for {endpoint} spent: waiting {seconds:.0f}s for the window "
            f"to reset at {clock_time(window['reset'])} (cap {self.max_wait:.0f}s)",
        )

    def after_429(self, endpoint: str, response: requests.Response, already_waited: bool) -> Wait:
        """The wait a 429 calls for, or :class:`RateLimitError` when waiting cannot help."""
        body = _json_or_empty(response)
        problem = str(body.get("type", "")) if isinstance(body, dict) else ""
        title = str(body.get("title", "")) if isinstance(body, dict) else ""
        if problem == USAGE_CAPPED or title == "UsageCapExceeded":
            detail = body.get("detail") or "usage cap exceeded"
            period = body.get("period")
            raise RateLimitError(
                f"429 from {endpoint}: {detail}{f' ({period})' if period else ''}. The project's monthly "
                "post cap is spent: waiting does not help; it resets with the billing period, or upgrade "
                "the access level. Nothing after the last committed page was ingested; the watermark is "
                "unchanged."
            )
        if already_waited:
            raise RateLimitError(
                f"429 Too Many Requests from {endpoint} again after waiting for the rate-limit window to "
                "reset: another client may share this app's limit. Giving up; the watermark is unchanged, "
                "rerun later."
            )
        window = self.update(endpoint, response.headers) or {}
        self.windows.pop(endpoint, None)
        if "reset" not in window:
            # No reset time to trust (a proxy's 429, or headers stripped): a fixed wait, within the cap; a
            # cap is the operator's "never wait longer than this", not a reason to fail a guess.
            seconds = min(DEFAULT_429_WAIT, self.max_wait)
            return Wait(
                seconds,
                f"429 Too Many Requests from {endpoint} without an x-rate-limit-reset header: waiting "
                f"{seconds:.0f}s before trying again (cap {self.max_wait:.0f}s)",
            )
        seconds = window["reset"] - self.clock() + 1
        if seconds < 1:
            # A reset already past: the window should have cleared (or this clock is behind the API's);
            # one second, then the retry tells. A second 429 fails as "again after waiting", never loops.
            return Wait(
                1.0,
                f"429 Too Many Requests from {endpoint}: the window's reset at {clock_time(window['reset'])} "
                "is already past (is this machine's clock off?): waiting 1s before trying again",
            )
        self._check_cap(endpoint, seconds, f"429 Too Many Requests from {endpoint}")
        return Wait(
            seconds,
            f"429 Too Many Requests from {endpoint}: waiting {seconds:.0f}s for the window "
            f"to reset at {clock_time(window['reset'])} (cap {self.max_wait:.0f}s)",
        )

    def _check_cap(self, endpoint: str, seconds: float, what: str) -> None:
        if seconds > self.max_wait:
            raise RateLimitError(
                f"{what}: the window resets in {seconds:.0f}s, longer than the cap of {self.max_wait:.0f}s "
                "(TWEETLAKE_MAX_RATE_LIMIT_WAIT). Giving up; the watermark is unchanged, rerun later."
            )


class TransientError(ApiError):
    """A failure worth retrying with backoff: a connection failure, a timeout, a 5xx, a body that is not a
    response page. The message is already redacted."""


class RateLimitWait(Exception):
    """Wait out a rate-limit window, then try the same request again (not a failed attempt)."""

    def __init__(self, wait: Wait) -> None:
        super().__init__(wait.message)
        self.wait = wait


@dataclass
class Backoff:
    """Exponential backoff with jitter for transient failures: ``retries`` tries more of one request."""

    retries: int = 5
    base: float = 1.0
    ceiling: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (1-based): ``base * 2**(attempt-1)``, jittered to 50-100%
        (tenacity's jittered waits go down to 0, or add the jitter: not this rule)."""
        full = min(self.ceiling, self.base * 2 ** (attempt - 1))
        return full * (0.5 + 0.5 * self.rng.random())

    def retrying(
        self, sleep: Callable[[float], None], on_wait: Callable[[float, str], None]
    ) -> tenacity.Retrying:
        """The retries of one request (make one per request): :class:`TransientError` is retried after
        :meth:`delay`, up to ``retries`` times, then fails as :class:`ApiError`; :class:`RateLimitWait`
        sleeps its wait (announced with ``on_wait`` first) and does not count; anything else propagates."""
        policy = _RequestRetries(self)
        return tenacity.Retrying(
            retry=policy.retry,
            stop=policy.stop,
            wait=policy.wait,
            before_sleep=lambda state: policy.before_sleep(state, on_wait),
            retry_error_callback=policy.give_up,
            sleep=sleep,
        )


class _RequestRetries:
    """The state of one request's retries: how many transient failures so far."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.failures = 0

    @staticmethod
    def _error(state: tenacity.RetryCallState) -> BaseException | None:
        return state.outcome.exception() if state.outcome is not None else None

    def retry(self, state: tenacity.RetryCallState) -> bool:  # tenacity asks this first, once an attempt
        error = self._error(state)
        if isinstance(error, TransientError):
            self.failures += 1
            return True
        return isinstance(error, RateLimitWait)

    def stop(self, state: tenacity.RetryCallState) -> bool:
        return isinstance(self._error(state), TransientError) and self.failures > self.backoff.retries

    def wait(self, state: tenacity.RetryCallState) -> float:
        error = self._error(state)
        if isinstance(error, RateLimitWait):
            return error.wait.seconds
        return self.backoff.delay(self.failures)

    def before_sleep(self, state: tenacity.RetryCallState, on_wait: Callable[[float, str], None]) -> None:
        error = self._error(state)
        if isinstance(error, RateLimitWait):
            on_wait(error.wait.seconds, error.wait.message)
            return
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning("%s; retry %d of %d in %.1fs", error, self.failures, self.backoff.retries, delay)

    def give_up(self, state: tenacity.RetryCallState) -> None:
        raise ApiError(
            f"{self._error(state)}; gave up after {self.failures} attempts. Nothing after the last "
            "committed page was ingested; the watermark is unchanged. Rerun once the API answers again: "
            "the rerun replaces this run's partial pages."
        )


def _json_or_empty(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def problem_detail(response: requests.Response) -> str:
    """The API's own explanation of an error response, in one line (never headers, so never the token)."""
    body = _json_or_empty(response)
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("title", "detail", "reason"):
            value = body.get(key)
            if value and str(value) not in parts:
                parts.append(str(value))
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                message = error.get("message") or error.get("detail")
                if message and str(message) not in parts:
                    parts.append(str(message))
    if not parts:
        text = (response.text or "").strip().replace("\n", " ")
        parts.append(text[:300] or response.reason or "")
    return "; ".join(p for p in parts if p)
