"""tweetlake's Python package: ingestion into bronze, and the pipeline steps the CLI and the DAG share."""

__version__ = "0.1.0"
