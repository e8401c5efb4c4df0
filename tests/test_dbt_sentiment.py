"""dbt_runtime.sentiment: exactly vaderSentiment's compound scores, each distinct text once, on every core."""

from __future__ import annotations

import random

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from dbt_runtime.sentiment import FastAnalyzer, score_distinct, score_texts
from foundation.settings import Settings

EDGE_CASES = [
    "",
    " ",
    "😀",
    "a😀b 😀 😀😀",
    " 🦆x",
    "I ❤️ DuckDB!!! :)",
    "not bad at all",
    "kind of GOOD, but the docs are TERRIBLE",
    "café 🇫🇷 très bien 👍🏽",
    "Q&A: <3 dbt > spreadsheets 🚀",
    "no no no :( 💔",
]
WORDS = [
    "great",
    "terrible",
    "love",
    "hate",
    "not",
    "very",
    "kind",
    "of",
    "but",
    "duckdb",
    "dbt",
    "fast",
    "slow",
    "😀",
    "🦆",
    ":)",
    ":(",
    "!!!",
    "ok",
    "meh",
]


def test_fast_analyzer_matches_vader_exactly() -> None:
    original, fast = SentimentIntensityAnalyzer(), FastAnalyzer()
    rng = random.Random(7)
    texts = EDGE_CASES + [" ".join(rng.choices(WORDS, k=rng.randint(1, 14))) for _ in range(3000)]
    for text in texts:
        assert fast.polarity_scores(text) == original.polarity_scores(text), text


def test_pool_scores_equal_single_process_and_repeat_texts_once() -> None:
    rng = random.Random(11)
    texts = list(dict.fromkeys(" ".join(rng.choices(WORDS, k=rng.randint(3, 16))) for _ in range(26000)))
    assert len(texts) > 20000  # large enough for the pool
    assert score_distinct(texts, processes=2) == score_distinct(texts, processes=1)
    repeated = score_texts([texts[0], None, texts[0], ""])
    assert repeated[0] == repeated[2] == SentimentIntensityAnalyzer().polarity_scores(texts[0])["compound"]
    assert repeated[1] == repeated[3] == 0.0


def test_sentiment_label_macro_at_the_thresholds(local_settings: Settings) -> None:
    """The dbt macro sentiment_label (the one home of the thresholds, var sentiment_threshold): a score
    at the threshold is positive, at minus the threshold negative, just inside either neutral."""
    import json

    from dbt_runtime.runner import run_dbt

    said: list[str] = []
    sql = (
        "select s, {{ sentiment_label('cast(s as double)') }} as label "
        "from (values (1.0), (0.05), (0.0499), (0.0), (-0.0499), (-0.05), (-1.0)) t(s) order by s desc"
    )
    run_dbt(
        local_settings,
        ["show", "--inline", sql, "--limit", "10", "--output", "json", "--quiet"],
        progress=said.append,
    )
    shown = json.loads("\n".join(line.removeprefix("  dbt | ") for line in said))["show"]
    assert [row["label"] for row in shown] == [
        "positive",
        "positive",
        "neutral",
        "neutral",
        "neutral",
        "negative",
        "negative",
    ]
