"""Where pages come from: the Twitter API (``api``), recorded pages (``replay``), generated ones (``sample``)."""

from ingestion.sources.base import Pull, Source

__all__ = ["Pull", "Source"]
