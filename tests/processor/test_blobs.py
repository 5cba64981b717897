"""S3 errors translated where they enter (moto's S3 server: a narrow unit test, no MinIO path)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from minio import Minio
from moto.server import ThreadedMotoServer

from glowworm.errors import DependencyUnavailable, FailureKind, PermanentError, TransientError
from glowworm.settings import Settings
from glowworm.storage import make_minio_client, make_s3_client
from processor import blobs


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
def bucket(endpoint: str) -> str:
    """A bucket of the test's own."""
    name = f"originals-{uuid.uuid4().hex[:8]}"
    make_s3_client(_settings(endpoint)).create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(endpoint: str) -> Minio:
    return make_minio_client(_settings(endpoint))


def test_read_returns_bytes_and_etag_and_head_the_size(
    store: Minio, endpoint: str, bucket: str
) -> None:
    s3 = make_s3_client(_settings(endpoint))
    etag = s3.put_object(Bucket=bucket, Key="a b+c.jpg", Body=b"bytes")["ETag"].strip('"')
    assert blobs.read(store, bucket, "a b+c.jpg") == (b"bytes", etag)
    found = blobs.head(store, bucket, "a b+c.jpg")
    assert (found.size, found.etag) == (5, etag)


def test_write_stores_bytes_and_content_type_where_listing_finds_them(
    store: Minio, bucket: str
) -> None:
    blobs.write(store, bucket, "7/small.jpg", b"jpeg", "image/jpeg")
    blobs.write(store, bucket, "7/a b+c.jpg", b"jpeg!", "image/jpeg")
    blobs.write(store, bucket, "8/other.jpg", b"x", "image/jpeg")
    assert blobs.head(store, bucket, "7/small.jpg").content_type == "image/jpeg"
    assert [(key, size) for key, _, size in blobs.listing(store, bucket, "7/")] == [
        ("7/a b+c.jpg", 5),
        ("7/small.jpg", 4),
    ]
    assert len(list(blobs.listing(store, bucket))) == 3


def test_a_missing_object_is_permanent_to_read_and_to_head(store: Minio, bucket: str) -> None:
    with pytest.raises(PermanentError, match="no longer exists") as caught:
        blobs.read(store, bucket, "gone.jpg")
    assert caught.value.kind is FailureKind.NOT_FOUND
    with pytest.raises(PermanentError, match="no longer exists"):
        blobs.head(store, bucket, "gone.jpg")


def test_an_unreachable_store_is_unavailable_and_a_missing_bucket_on_write_is_transient(
    store: Minio,
) -> None:
    nobody = make_minio_client(_settings("http://127.0.0.1:9"))
    with pytest.raises(DependencyUnavailable, match="unreachable") as caught:
        blobs.write(nobody, "derivatives", "1/small.jpg", b"x", "image/jpeg")
    assert caught.value.kind is FailureKind.STORAGE
    with pytest.raises(DependencyUnavailable, match="unreachable"):
        list(blobs.listing(nobody, "originals"))
    # The store answers, so this is the job's attempt failing, not an outage.
    with pytest.raises(TransientError, match="NoSuchBucket") as answered:
        blobs.write(store, "no-such-bucket", "1/small.jpg", b"x", "image/jpeg")
    assert not isinstance(answered.value, DependencyUnavailable)


class _Refusing(BaseHTTPRequestHandler):
    """A store that answers every request with one S3 error (503 SlowDown: overloaded)."""

    calls = 0
    status, code = 503, "SlowDown"

    def _answer(self) -> None:
        type(self).calls += 1
        body = f"<Error><Code>{self.code}</Code><Message>no</Message></Error>".encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _answer  # noqa: N815 - the names http.server calls

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[tuple[type[_Refusing], Minio]]:
    """A class of its own (set status and code on it) serving requests, and a client of it."""
    handler = type("Refusing", (_Refusing,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, make_minio_client(_settings(f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()


def test_a_store_answering_503_is_a_failed_attempt_after_one_retry_not_an_outage(
    refusing: tuple[type[_Refusing], Minio],
) -> None:
    handler, slow = refusing
    with pytest.raises(TransientError, match="SlowDown") as caught:
        blobs.read(slow, "originals", "a.jpg")
    assert not isinstance(caught.value, DependencyUnavailable)
    assert handler.calls == 2  # the request and its one retry


# What MinIO answers while it starts, and to the requests in flight when it stops.
@pytest.mark.parametrize(
    ("status", "code"), [(503, "XMinioServerNotInitialized"), (499, "ClientDisconnected")]
)
def test_a_store_starting_or_stopping_is_an_outage_not_a_failed_attempt(
    refusing: tuple[type[_Refusing], Minio], status: int, code: str
) -> None:
    handler, store = refusing
    handler.status, handler.code = status, code
    with pytest.raises(DependencyUnavailable, match=f"not in service \\({code}\\)"):
        blobs.write(store, "derivatives", "1/small.jpg", b"x", "image/jpeg")
    with pytest.raises(DependencyUnavailable, match=code):
        blobs.read(store, "originals", "a.jpg")


def test_an_endpoint_with_a_path_is_refused_rather_than_cut() -> None:
    with pytest.raises(ValueError, match="takes no path"):
        make_minio_client(_settings("http://minio.example/s3"))
