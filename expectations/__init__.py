"""Data quality for tweetlake: Great Expectations suites (``suites/*.json``) and the code that runs them."""
