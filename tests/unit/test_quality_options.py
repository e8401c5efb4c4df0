"""The validation knobs read from the environment: a malformed value is a ConfigError naming the setting,
the value and what it takes, never a bare ValueError from deep inside a run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from expectations.options import QualityOptions
from foundation.settings import ConfigError


def test_numbers_are_read() -> None:
    opts = QualityOptions.from_env(
        {
            "TWEETLAKE_QUALITY_MAX_AGE_HOURS": "12",
            "TWEETLAKE_QUALITY_CLOCK_SKEW_MINUTES": "1.5",
            "TWEETLAKE_QUALITY_BATCH_ROWS": "1000",
            "TWEETLAKE_MAX_REJECTED_SHARE": "0.05",
        }
    )
    assert opts.max_age == timedelta(hours=12) and opts.clock_skew == timedelta(minutes=1.5)
    assert opts.batch_rows == 1000 and opts.max_rejected_share == 0.05
    assert QualityOptions.from_env({}).max_rejected_share is None  # each source's default


@pytest.mark.parametrize(
    "name,value,said",
    [
        ("TWEETLAKE_MAX_REJECTED_SHARE", "1%", "is not a number: expected a fraction from 0 to 1"),
        ("TWEETLAKE_MAX_REJECTED_SHARE", "5", "is not a share"),
        ("TWEETLAKE_MAX_REJECTED_SHARE", "nan", "is not a finite number"),
        ("TWEETLAKE_QUALITY_MAX_AGE_HOURS", "two days", "expected a number of hours"),
        ("TWEETLAKE_QUALITY_BATCH_ROWS", "1.5", "expected a whole number of rows"),
    ],
)
def test_a_malformed_number_names_the_setting(name: str, value: str, said: str) -> None:
    with pytest.raises(ConfigError, match=name) as err:
        QualityOptions.from_env({name: value})
    assert said in str(err.value)
