"""Airflow assets for the lake's layers, so other DAGs can be scheduled on a fresh bronze, silver or gold.

The URIs come from the lake root (``TWEETLAKE_LAKE``, read from the environment at parse time, no DB):
``file:///abs/lake/gold`` for a local lake, ``s3://bucket/prefix/gold`` on S3. Names are fixed
(``tweetlake_bronze``, ``tweetlake_silver``, ``tweetlake_gold``) so a consumer can subscribe by name too.

When each asset gets an event (see the refresh DAG): bronze after every stream's ingest, silver once silver
passed its quality gate, gold when validated gold was published.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import Asset

from foundation.layout import BRONZE, GOLD, SILVER
from foundation.settings import is_remote, load_settings

LAYERS = (BRONZE, SILVER, GOLD)


def layer_uri(lake: str, layer: str) -> str:
    """The URI of one layer of the lake rooted at ``lake`` (an absolute path or ``s3://...``)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}: one of {', '.join(LAYERS)}")
    root = lake.rstrip("/")
    if is_remote(root):
        return f"{root}/{layer}"
    return f"file://{root}/{layer}"


@dataclass(frozen=True)
class LakeAssets:
    bronze: Asset
    silver: Asset
    gold: Asset


def lake_assets(lake: str | None = None) -> LakeAssets:
    """The three assets of ``lake`` (default: the lake the environment configures)."""
    root = lake or load_settings().lake
    made = {layer: Asset(name=f"tweetlake_{layer}", uri=layer_uri(root, layer)) for layer in LAYERS}
    return LakeAssets(**made)
