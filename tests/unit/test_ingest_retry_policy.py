"""The retry policy of one API request (ingestion.http.Backoff.retrying), with a recorded sleep."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import requests

from ingestion.http import ApiError, Backoff, RateLimiter, RateLimitError, RateLimitWait, TransientError, Wait


class Script:
    """A request that fails as told, in order, then answers ``"ok"``; sleeps and waits are recorded."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.sleeps: list[float] = []
        self.announced: list[tuple[float, str]] = []

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"

    def run(self, backoff: Backoff) -> Any:
        retrying = backoff.retrying(self.sleeps.append, lambda s, m: self.announced.append((s, m)))
        return retrying(self)


def fixed(value: float) -> random.Random:
    rng = random.Random()
    rng.random = lambda: value  # type: ignore[method-assign]
    return rng


def test_transient_failures_back_off_exponentially_with_jitter_then_succeed() -> None:
    script = Script(*(TransientError(f"503 #{i}") for i in range(4)))
    assert script.run(Backoff(retries=5, base=1.0, rng=fixed(0.0))) == "ok"
    assert script.calls == 5 and script.sleeps == [0.5, 1.0, 2.0, 4.0]  # 2**n, jittered down to 50%
    script = Script(*(TransientError("503") for _ in range(3)))
    script.run(Backoff(retries=5, base=2.0, rng=fixed(1.0)))
    assert script.sleeps == [2.0, 4.0, 8.0]  # at most the full delay


def test_backoff_is_capped_by_the_ceiling() -> None:
    script = Script(*(TransientError("timeout") for _ in range(5)))
    script.run(Backoff(retries=5, base=10.0, ceiling=25.0, rng=fixed(1.0)))
    assert script.sleeps == [10.0, 20.0, 25.0, 25.0, 25.0]


def test_gives_up_after_the_retries_with_the_last_failure_and_nothing_moved() -> None:
    script = Script(*(TransientError(f"502 Bad Gateway #{i}") for i in range(10)))
    with pytest.raises(
        ApiError, match=r"502 Bad Gateway #3; gave up after 4 attempts.*watermark is unchanged"
    ):
        script.run(Backoff(retries=3))
    assert script.calls == 4 and len(script.sleeps) == 3


def test_rate_limit_waits_sleep_their_reset_are_announced_first_and_do_not_count() -> None:
    wait = Wait(42.0, "rate limit spent: waiting 42s")
    script = Script(TransientError("503"), RateLimitWait(wait), TransientError("503"))
    assert script.run(Backoff(retries=2, rng=fixed(1.0))) == "ok"  # 2 transient failures: within 2 retries
    assert script.sleeps == [1.0, 42.0, 2.0]  # the backoff goes on doubling across the wait
    assert script.announced == [(42.0, "rate limit spent: waiting 42s")]


@pytest.mark.parametrize(
    "error", [RateLimitError("usage cap"), ApiError("401 Unauthorized"), ValueError("a bug")], ids=str
)
def test_anything_else_fails_at_once(error: BaseException) -> None:
    script = Script(error)
    with pytest.raises(type(error), match=str(error)):
        script.run(Backoff())
    assert script.calls == 1 and script.sleeps == []


def response_429(body: dict[str, Any] | None = None, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    response._content = requests.compat.json.dumps(body or {}).encode()  # type: ignore[attr-defined]
    return response


def limiter(now: float, cap: float = 900.0) -> RateLimiter:
    clock: Callable[[], float] = lambda: now  # noqa: E731
    return RateLimiter(max_wait=cap, clock=clock)


def test_a_429_waits_until_its_reset_and_past_the_cap_fails_clearly() -> None:
    wait = limiter(1000.0).after_429("search_recent", response_429(**{"x-rate-limit-reset": "1100"}), False)
    assert wait.seconds == 101 and "reset at" in wait.message
    with pytest.raises(RateLimitError, match="longer than the cap of 60s"):
        limiter(1000.0, cap=60).after_429(
            "search_recent", response_429(**{"x-rate-limit-reset": "1100"}), False
        )
    with pytest.raises(RateLimitError, match="again after waiting"):
        limiter(1000.0).after_429("search_recent", response_429(**{"x-rate-limit-reset": "1100"}), True)


def test_a_usage_cap_fails_at_once_whatever_the_reset() -> None:
    capped = response_429(
        {
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "period": "Monthly",
        },
        **{"x-rate-limit-reset": "1001"},
    )
    with pytest.raises(RateLimitError, match=r"Monthly product cap \(Monthly\).*waiting does not help"):
        limiter(1000.0).after_429("search_recent", capped, False)


def test_a_spent_window_is_waited_for_before_the_next_request_only_until_it_resets() -> None:
    rl = limiter(1000.0)
    rl.update(
        "user_tweets",
        {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1030"},
    )
    wait = rl.before_request("user_tweets")
    assert wait is not None and wait.seconds == 31 and "of 900 requests" in wait.message
    assert rl.before_request("user_tweets") is None  # waited once: the window is forgotten
    rl.update("user_tweets", {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "990"})
    assert rl.before_request("user_tweets") is None  # already reset
