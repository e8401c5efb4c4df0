"""Sentiment: VADER compound scores (``vaderSentiment``, whose lexicon ships in the package), fast.

The scores are exactly ``SentimentIntensityAnalyzer().polarity_scores(text)["compound"]``. Speed comes from
doing less work, never from approximating:

- each distinct text is scored once (retweets and re-observations repeat their text);
- emoji are translated with one regex pass instead of VADER's character-by-character string building
  (:class:`FastAnalyzer`; same output, checked against the original in the tests);
- the texts are split into chunks scored by a pool of worker processes (one per core), streamed with a
  bounded number of chunks in flight so memory stays flat however many texts there are;
- the build never rescores a text: scored text hashes are kept in the lake (``_state/build/tweet_sentiment``)
  and only texts whose hash is not there yet reach :func:`score_texts`.

Labels (positive / neutral / negative) are the dbt project's (macro ``sentiment_label``), not this module's.

Usable standalone (the benchmark times it on its own)::

    from dbt_runtime.sentiment import score_texts
    scores = score_texts(["I love DuckDB :)", "this is awful"])
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

from dbt_runtime.processes import cores, spawn_pool

CHUNK = 4000  # texts per task: big enough to amortise pickling, small enough to balance the workers
MIN_PARALLEL = 20000  # below this, starting a pool costs more than it saves


class FastAnalyzer(SentimentIntensityAnalyzer):
    """VADER with a faster emoji translation; ``polarity_scores`` returns exactly what the original does.

    The original walks the text one character at a time, replacing each character found in the emoji
    lexicon by its description (preceded by a space unless the previous character was a space or it is the
    first character) and building the result by string concatenation. Only single characters can match, so
    one regex over the single-character keys does the same in C.
    """

    def __init__(self) -> None:
        super().__init__()
        # candidates: every non-ASCII character (a cheap range test), then looked up in the lexicon; an
        # ASCII emoji key (none in vaderSentiment 3.3.2) would need the original's slow path
        self._ascii_keys = any(len(k) == 1 and ord(k) < 128 for k in self.emojis)
        self._candidates = re.compile("[^\\x00-\\x7f]")

    def _demojize(self, text: str) -> str:
        emojis = self.emojis

        def describe(match: re.Match[str]) -> str:
            char = match.group()
            description = emojis.get(char)
            if description is None:
                return char
            i = match.start()
            return description if i == 0 or text[i - 1] == " " else " " + description

        return self._candidates.sub(describe, text)

    def polarity_scores(self, text: str) -> dict[str, float]:
        if self._ascii_keys:
            return super().polarity_scores(text)
        text = self._demojize(text).strip()
        # from here on, SentimentIntensityAnalyzer.polarity_scores (vaderSentiment 3.3.2) unchanged
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words_and_emoticons = sentitext.words_and_emoticons
        for i, item in enumerate(words_and_emoticons):
            valence = 0
            if item.lower() in BOOSTER_DICT:
                sentiments.append(valence)
                continue
            if (
                i < len(words_and_emoticons) - 1
                and item.lower() == "kind"
                and words_and_emoticons[i + 1].lower() == "of"
            ):
                sentiments.append(valence)
                continue
            sentiments = self.sentiment_valence(valence, sentitext, item, i, sentiments)
        sentiments = self._but_check(words_and_emoticons, sentiments)
        return self.score_valence(sentiments, text)


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    return FastAnalyzer()


def score_text(text: str | None) -> float:
    """The VADER compound score of one text, in [-1, 1] (0.0 for an empty or missing text)."""
    if not text:
        return 0.0
    return float(analyzer().polarity_scores(text)["compound"])


def _score_chunk(texts: Sequence[str]) -> list[float]:
    return [score_text(t) for t in texts]


def default_processes() -> int:
    raw = os.environ.get("TWEETLAKE_SENTIMENT_PROCESSES", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return cores()


def _warm(_: int) -> int:
    analyzer()
    return os.getpid()


def score_chunks(chunks: Iterable[Sequence[str]], processes: int | None = None) -> Iterator[list[float]]:
    """Scores of each chunk of texts, in order, streamed: at most ``2 * processes`` chunks in flight."""
    processes = processes or default_processes()
    if processes <= 1:
        for chunk in chunks:
            yield _score_chunk(chunk)
        return
    with spawn_pool(processes) as pool:
        pool.map(_warm, range(processes))
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_score_chunk, (list(chunk),)))
            if len(pending) >= 2 * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def score_arrow_batches(batches: Iterable[Any], processes: int | None = None) -> Iterator[Any]:
    """(text_hash, text_clean) Arrow record batches in, (text_hash, sentiment_score) record batches out."""
    import pyarrow as pa

    pending: deque[Any] = deque()

    def chunks() -> Iterator[list[str]]:
        for batch in batches:
            for start in range(0, batch.num_rows, CHUNK):
                part = batch.slice(start, CHUNK)
                pending.append(part.column(0))
                yield [t or "" for t in part.column(1).to_pylist()]

    for scores in score_chunks(chunks(), processes):
        hashes = pending.popleft()
        yield pa.record_batch(
            [hashes, pa.array(scores, type=pa.float64())], names=["text_hash", "sentiment_score"]
        )


def score_distinct(texts: Sequence[str], processes: int | None = None) -> list[float]:
    """Scores of ``texts`` (assumed distinct), in order, using ``processes`` worker processes."""
    if len(texts) < MIN_PARALLEL:
        processes = 1
    chunks = (texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK))
    return [s for scores in score_chunks(chunks, processes) for s in scores]


def score_texts(texts: Iterable[str | None], processes: int | None = None) -> list[float]:
    """Scores of ``texts`` in order; each distinct text is scored once, on all cores."""
    items = list(texts)
    distinct = list(dict.fromkeys(t for t in items if t))
    scores = dict(zip(distinct, score_distinct(distinct, processes), strict=True))
    return [scores.get(t, 0.0) if t else 0.0 for t in items]
