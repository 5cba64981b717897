"""S3 errors translated where they enter (moto: a narrow S3 unit test, no MinIO path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from processor import blobs
from processor.errors import DependencyUnavailable, FailureKind, PermanentError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="originals")
        yield client


def test_read_returns_bytes_and_etag(s3: S3Client) -> None:
    etag = s3.put_object(Bucket="originals", Key="a b.jpg", Body=b"bytes")["ETag"].strip('"')
    assert blobs.read(s3, "originals", "a b.jpg") == (b"bytes", etag)
    assert blobs.head(s3, "originals", "a b.jpg").size == 5


def test_a_missing_object_is_permanent(s3: S3Client) -> None:
    with pytest.raises(PermanentError, match="no longer exists") as caught:
        blobs.read(s3, "originals", "gone.jpg")
    assert caught.value.kind is FailureKind.NOT_FOUND


def test_an_unreachable_store_is_unavailable_and_a_missing_bucket_on_write_is_transient(
    s3: S3Client,
) -> None:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    with pytest.raises(DependencyUnavailable, match="unreachable") as caught:
        blobs.write(client, "derivatives", "1/small.jpg", b"x", "image/jpeg")
    assert caught.value.kind is FailureKind.STORAGE
    # The store answers, so this is the job's attempt failing, not an outage.
    with pytest.raises(TransientError, match="NoSuchBucket") as answered:
        blobs.write(s3, "no-such-bucket", "1/small.jpg", b"x", "image/jpeg")
    assert not isinstance(answered.value, DependencyUnavailable)
