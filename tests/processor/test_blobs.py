"""S3 errors translated where they enter (moto's S3 server: a narrow unit test, no MinIO path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from glowworm.settings import Settings
from glowworm.storage import make_minio_client, make_s3_client
from processor import blobs
from processor.errors import DependencyUnavailable, FailureKind, PermanentError, TransientError


def _settings(endpoint: str) -> Settings:
    return Settings(s3_endpoint=endpoint, s3_access_key="x", s3_secret_key="y")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def store(endpoint: str) -> Minio:
    s3 = make_s3_client(_settings(endpoint))
    s3.create_bucket(Bucket="originals")
    return make_minio_client(_settings(endpoint))


def test_read_returns_bytes_and_etag_and_head_the_size(store: Minio, endpoint: str) -> None:
    s3 = make_s3_client(_settings(endpoint))
    etag = s3.put_object(Bucket="originals", Key="a b+c.jpg", Body=b"bytes")["ETag"].strip('"')
    assert blobs.read(store, "originals", "a b+c.jpg") == (b"bytes", etag)
    found = blobs.head(store, "originals", "a b+c.jpg")
    assert (found.size, found.etag) == (5, etag)


def test_write_stores_bytes_and_content_type_where_listing_finds_them(store: Minio) -> None:
    blobs.write(store, "originals", "7/small.jpg", b"jpeg", "image/jpeg")
    blobs.write(store, "originals", "7/large.jpg", b"jpeg!", "image/jpeg")
    assert blobs.head(store, "originals", "7/small.jpg").content_type == "image/jpeg"
    assert [(key, size) for key, _, size in blobs.listing(store, "originals", "7/")] == [
        ("7/large.jpg", 5),
        ("7/small.jpg", 4),
    ]


def test_a_missing_object_is_permanent_to_read_and_to_head(store: Minio) -> None:
    with pytest.raises(PermanentError, match="no longer exists") as caught:
        blobs.read(store, "originals", "gone.jpg")
    assert caught.value.kind is FailureKind.NOT_FOUND
    with pytest.raises(PermanentError, match="no longer exists"):
        blobs.head(store, "originals", "gone.jpg")


def test_an_unreachable_store_is_unavailable_and_a_missing_bucket_on_write_is_transient(
    store: Minio,
) -> None:
    nobody = make_minio_client(_settings("http://127.0.0.1:9"))
    with pytest.raises(DependencyUnavailable, match="unreachable") as caught:
        blobs.write(nobody, "derivatives", "1/small.jpg", b"x", "image/jpeg")
    assert caught.value.kind is FailureKind.STORAGE
    # The store answers, so this is the job's attempt failing, not an outage.
    with pytest.raises(TransientError, match="NoSuchBucket") as answered:
        blobs.write(store, "no-such-bucket", "1/small.jpg", b"x", "image/jpeg")
    assert not isinstance(answered.value, DependencyUnavailable)
