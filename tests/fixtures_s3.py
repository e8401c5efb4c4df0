"""S3 fixtures: a real S3 API (moto in server mode on 127.0.0.1) for the session, a fresh bucket per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from foundation.lake import Lake

DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Bucket:
    """A bucket of its own on the session's S3 server."""

    endpoint: str
    bucket: str

    def lake(self, prefix: str = "lake") -> Lake:
        return Lake(root=f"s3://{self.bucket}/{prefix}", s3_endpoint=self.endpoint)

    def keys(self, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server(moto_server: str) -> str:
    """The session's one S3 API server (``tests.fixtures_lake.moto_server``), by the name these tests use."""
    return moto_server


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh, empty bucket for this test (tests never see each other's objects)."""
    import boto3

    for key, value in DUMMY_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = f"tweetlake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return S3Bucket(s3_server, bucket)
