"""Cacheable delivery against real MinIO: one URL per signing window, a redirect cached
no longer than its URL is valid, and unsigned derivative URLs under a public base."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from glowworm.layout import derivative_prefix
from tests.conftest import CORPUS, Uploader
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = CORPUS / "orientation-landscape-1.jpg"
CDN = "https://cdn.example.test/gw"


def _redirect(client: TestClient, headers: dict[str, str], image_id: int, size: str) -> Any:
    answer = client.get(
        f"/api/images/{image_id}/file",
        params={"size": size},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    return answer


def _valid_until(location: str) -> float:
    """When a presigned URL expires, from its own X-Amz-Date and X-Amz-Expires."""
    query = parse_qs(urlsplit(location).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed.timestamp() + int(query["X-Amz-Expires"][0])


def _max_age(answer: Any) -> int:
    match = re.fullmatch(r"private, max-age=(\d+)", answer.headers["cache-control"])
    assert match, answer.headers["cache-control"]
    return int(match[1])


def _processed(uploader: Uploader, headers: dict[str, str]) -> dict[str, Any]:
    body = uploader.upload(headers, PHOTO.read_bytes(), "delivery.jpg")
    uploader.client.post(f"/api/uploads/{body['id']}/complete", headers=headers)
    assert uploader.wait(headers, body["id"])["processing_status"] == "complete"
    return body


def _derivative_key(s3: S3Client, bucket: str, body: dict[str, Any], size: str) -> str:
    prefix = f"{derivative_prefix(body['bucket'], body['key'])}{size}-"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert len(listed) == 1, listed
    return listed[0]["Key"]


@pytest.fixture
def app_with(settings: UploadSettings) -> Iterator[Any]:
    """Factory: the API under changed settings, over the session's database and buckets."""
    clients: list[TestClient] = []

    def make(**changes: Any) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=changes)))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_a_ready_size_keeps_one_url_in_a_window_that_downloads_and_caches_no_longer_than_valid(
    uploader: Uploader,
    make_token: Any,
    s3: S3Client,
    settings: UploadSettings,
    processors: Any,
) -> None:
    headers = make_token()
    body = _processed(uploader, headers)
    first = _redirect(uploader.client, headers, body["id"], "small")
    second = _redirect(uploader.client, headers, body["id"], "small")
    if _valid_until(first.headers["location"]) != _valid_until(second.headers["location"]):
        # The two fell on either side of a window's end: two more fall in one window.
        first = _redirect(uploader.client, headers, body["id"], "small")
        second = _redirect(uploader.client, headers, body["id"], "small")
    location = first.headers["location"]
    assert second.headers["location"] == location
    key = _derivative_key(s3, settings.derivatives_bucket, body, "small")
    assert urlsplit(location).path == f"/{settings.derivatives_bucket}/{quote(key)}"
    assert "X-Amz-Signature=" in location

    max_age = _max_age(first)
    assert 0 <= max_age <= _valid_until(location) - time.time()
    # Handed out at any moment, the URL is good for at least the download expiry.
    assert _valid_until(location) - time.time() >= settings.download_expiry_seconds - 5

    served = uploader.http.get(location)
    assert served.status_code == 200
    stored = s3.get_object(Bucket=settings.derivatives_bucket, Key=key)["Body"].read()
    assert served.content == stored
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_the_url_changes_when_the_window_does_and_each_one_downloads(
    uploader: Uploader, make_token: Any, app_with: Any
) -> None:
    headers = make_token()
    data = PHOTO.read_bytes()
    body = uploader.upload(headers, data, "window.jpg")
    client = app_with(download_window_seconds=1, download_expiry_seconds=120)
    time.sleep(1 - time.time() % 1 + 0.05)  # just past a window's start
    before = _redirect(client, headers, body["id"], "original")
    time.sleep(1 - time.time() % 1 + 0.05)  # just past the next one's
    after = _redirect(client, headers, body["id"], "original")
    assert after.headers["location"] != before.headers["location"]
    assert _valid_until(after.headers["location"]) - _valid_until(before.headers["location"]) >= 1
    for answer in (before, after):
        assert 0 <= _max_age(answer) <= _valid_until(answer.headers["location"]) - time.time()
        assert uploader.http.get(answer.headers["location"]).content == data


def test_a_size_not_ready_sends_the_original_and_must_be_asked_again(
    uploader: Uploader, make_token: Any, settings: UploadSettings
) -> None:
    headers = make_token()
    data = PHOTO.read_bytes()
    body = uploader.upload(headers, data, "not-yet.jpg")
    fallback = _redirect(uploader.client, headers, body["id"], "medium")
    assert fallback.headers["cache-control"] == "private, no-cache"
    assert urlsplit(fallback.headers["location"]).path.startswith(f"/{settings.originals_bucket}/")
    assert uploader.http.get(fallback.headers["location"]).content == data


def test_a_public_base_serves_ready_derivatives_unsigned_and_still_signs_the_original(
    uploader: Uploader,
    make_token: Any,
    s3: S3Client,
    settings: UploadSettings,
    app_with: Any,
    processors: Any,
) -> None:
    headers = make_token()
    body = _processed(uploader, headers)
    client = app_with(public_derivatives_url=CDN + "/")
    for size in ("small", "fhd"):
        answer = _redirect(client, headers, body["id"], size)
        key = _derivative_key(s3, settings.derivatives_bucket, body, size)
        assert answer.headers["location"] == f"{CDN}/{quote(key)}"
        assert answer.headers["cache-control"] == (
            f"private, max-age={settings.download_window_seconds}"
        )
        # What the CDN's origin holds at that key is the derivative, marked immutable.
        head = s3.head_object(Bucket=settings.derivatives_bucket, Key=key)
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
    original = _redirect(client, headers, body["id"], "original")
    location = original.headers["location"]
    assert not location.startswith(CDN)
    assert "X-Amz-Signature=" in location
    assert httpx.get(location, timeout=10).content == PHOTO.read_bytes()
