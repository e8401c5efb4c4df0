"""What the next API ingest would cost, before it runs: counts first (``tweetlake plan``).

The X API bills pay-per-use, per post read; the counts endpoint answers how many posts match a query in a
window without returning them. For each configured query the plan asks ``GET /2/tweets/counts/recent`` for
the window the next ingest would request (the one given, or since the query's watermark) and prints the
posts it would read, the search requests that takes (``max_results`` posts per page) and the cost at
``TWEETLAKE_PRICE_PER_POST``. Accounts are listed as not counted: timelines have no counts endpoint. It also
asks ``GET /2/usage/tweets`` what the project read this cycle and per day (:mod:`ingestion.usage`), prints
it and keeps it beside the spend ledger (``_state/spend/usage/``): the only thing a plan writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from foundation.lake import Lake
from foundation.settings import DEFAULT_PRICE_PER_POST, PRICE_READ_ON, Settings
from ingestion import spend
from ingestion import usage as api_usage
from ingestion.sources.api import ApiSource, QueryCount
from ingestion.watermarks import WatermarkStore


@dataclass(frozen=True)
class Estimate:
    """One query's planned pull."""

    query: str
    window: str  # "start .. end" or "since <id>" or "the last 7 days"
    posts: int
    requests: int
    cost: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    estimates: tuple[Estimate, ...]
    accounts: tuple[str, ...]  # not counted
    price_per_post: float
    month_used: int = 0  # posts read this month so far (the spend ledger)
    run_budget: int | None = None  # TWEETLAKE_MAX_POSTS_PER_RUN
    monthly_budget: int | None = None  # TWEETLAKE_MONTHLY_POST_BUDGET
    usage: api_usage.Usage | None = None  # the API's own account (GET /2/usage/tweets), or why there is none

    @property
    def posts(self) -> int:
        return sum(e.posts for e in self.estimates)

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.estimates)

    @property
    def cost(self) -> float:
        return sum(e.cost for e in self.estimates)

    def describe(self) -> str:
        """The plan as a table a person reads, then the totals and where the price comes from."""
        rows = [("query", "window", "posts", "requests", "est. cost")]
        rows += [
            (e.query, e.window, f"{e.posts:,}", f"{e.requests:,}", money(e.cost)) for e in self.estimates
        ]
        rows.append(("total", "", f"{self.posts:,}", f"{self.requests:,}", money(self.cost)))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = []
        for n, row in enumerate(rows):
            left = [cell.ljust(widths[i]) for i, cell in enumerate(row[:2])]
            right = [cell.rjust(widths[i + 2]) for i, cell in enumerate(row[2:])]
            lines.append("  ".join(left + right).rstrip())
            if n == 0 or n == len(rows) - 2:
                lines.append("  ".join("-" * w for w in widths))
        for estimate in self.estimates:
            lines += [f"note: {note}" for note in estimate.notes]
        if self.accounts:
            names = ", ".join(f"@{a}" for a in self.accounts)
            lines.append(
                f"not counted: {names} (timelines and mentions have no counts endpoint; each serves at "
                "most its 3,200 most recent posts)"
            )
        lines += self._budget_lines()
        if self.usage is not None:
            lines.append(self.usage.describe())
        source = (
            f"the documented pay-per-use price, read on {PRICE_READ_ON}"
            if self.price_per_post == DEFAULT_PRICE_PER_POST
            else "TWEETLAKE_PRICE_PER_POST"
        )
        lines.append(
            f"cost at ${self.price_per_post:g} per post read ({source}; set TWEETLAKE_PRICE_PER_POST to "
            "your account's price). Posts only: expanded users and referenced posts may be billed too."
        )
        return "\n".join(lines)

    def _budget_lines(self) -> list[str]:
        """Where the plan stands against the budgets: the next ingest stops at the smaller one."""
        lines = [f"this month: {self.month_used:,} posts read so far (spend ledger, _state/spend/)"]
        if self.run_budget is not None and self.posts > self.run_budget:
            lines.append(
                f"over TWEETLAKE_MAX_POSTS_PER_RUN ({self.run_budget:,}): the next ingest stops there and "
                f"the runs after it read the rest ({math.ceil(self.posts / self.run_budget)} runs in all)"
            )
        if self.monthly_budget is not None:
            left = max(0, self.monthly_budget - self.month_used)
            verdict = "fits" if self.posts <= left else f"does not fit: {self.posts - left:,} posts over"
            budget = f"TWEETLAKE_MONTHLY_POST_BUDGET {self.monthly_budget:,}"
            lines.append(f"{budget}: {left:,} left this month; the plan {verdict}")
        return lines


def money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def estimate(count: QueryCount, max_results: int, price: float) -> Estimate:
    """One query's posts, requests (a page of ``max_results`` posts each; one request even for none) and
    cost."""
    asked = count.asked
    if "until_id" in asked:  # the gap a pull stopped at a budget left: read first
        window = f"since {asked.get('since_id', 'the start')}, until {asked['until_id']}"
    elif "since_id" in asked:
        window = f"since {asked['since_id']}"
    elif "start_time" in asked:
        window = f"{asked['start_time']} .. {asked.get('end_time', 'now')}"
    else:
        window = "the last 7 days"
    posts = count.posts
    requests = max(1, math.ceil(posts / max_results))
    return Estimate(count.query, window, posts, requests, posts * price, count.notes)


def plan(settings: Settings, source: ApiSource) -> Plan:
    """Count each configured query's next pull (no post is read); the API's usage is recorded beside the
    ledger, nothing else is written to the lake."""
    lake = Lake.from_settings(settings)
    watermarks = WatermarkStore(lake)
    estimates = tuple(
        estimate(count, source.max_results, settings.price_per_post) for count in source.counts(watermarks)
    )
    used = api_usage.fetch(source)
    api_usage.record(lake, used)
    return Plan(
        estimates,
        source.accounts,
        settings.price_per_post,
        spend.posts_this_month(lake, source.now()),
        settings.max_posts_per_run,
        settings.monthly_post_budget,
        used,
    )
