"""The signers against boto3's own presigned URLs, which MinIO is known to take."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from glowworm.storage import make_s3_client
from upload_service.presign import GetSigner, PutSigner, unsigned_url
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    pass

KEYS = [
    "uploads/1/abc/cat.jpg",
    "uploads/7/f00/camera roll 2026 + summer (1).jpeg",
    "uploads/7/f00/naïve café ✓ 1+1=2 ~ #%&?.png",
]

SIGNED_AT = datetime(2026, 11, 30, 12, 0, 0)


def make_signer(settings: UploadSettings) -> PutSigner:
    return PutSigner(
        settings.s3_public_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key,
    )


DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("size", [2_000_000, None])
@pytest.mark.parametrize("sha256", [DIGEST, None])
def test_signed_url_is_the_one_boto3_makes(key: str, size: int | None, sha256: str | None) -> None:
    settings = UploadSettings()
    boto = make_s3_client(settings, public=True)
    params: dict[str, Any] = {
        "Bucket": "originals",
        "Key": key,
        "ContentType": "image/jpeg",
        "IfNoneMatch": "*",
    }
    if size is not None:
        params["ContentLength"] = size
    if sha256 is not None:
        params["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
    # Both sign "now": hold botocore's clock still so the two signatures can be compared.
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        expected = boto.generate_presigned_url("put_object", Params=params, ExpiresIn=900)
        ours = make_signer(settings).put_url(
            "originals", key, "image/jpeg", size, 900, sha256=sha256
        )
    assert ours.url == expected
    signed = "x-amz-checksum-sha256" if sha256 else "if-none-match"
    assert "host%3Bif-none-match" in ours.url and signed in ours.url


@pytest.mark.parametrize("key", KEYS)
def test_a_part_url_is_the_one_boto3_makes_with_its_length_signed(key: str) -> None:
    settings = UploadSettings()
    boto = make_s3_client(settings, public=True)
    upload_id = "ZTI1YjM0Y2QtOWQ3Zi00YmE0LTk3MmUtNWIxNTFlMjA3NjU2LjQ5ZDM+/=x"
    params = {"Bucket": "originals", "Key": key, "UploadId": upload_id, "PartNumber": 3}
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        expected = boto.generate_presigned_url(
            "upload_part", Params={**params, "ContentLength": 1234}, ExpiresIn=900
        )
        ours = make_signer(settings).part_url("originals", key, upload_id, 3, 1234, 900)
    assert ours == expected
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in ours


def make_get_signer(settings: UploadSettings) -> GetSigner:
    return GetSigner(
        settings.s3_public_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key,
    )


@pytest.mark.parametrize("key", KEYS)
def test_a_get_signed_at_a_time_is_the_url_boto3_signs_at_that_time(key: str) -> None:
    settings = UploadSettings()
    boto = make_s3_client(settings, public=True)
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        expected = boto.generate_presigned_url(
            "get_object", Params={"Bucket": "derivatives", "Key": key}, ExpiresIn=1200
        )
    ours = make_get_signer(settings).get_url(
        "derivatives", key, SIGNED_AT.replace(tzinfo=UTC), 1200
    )
    assert ours == expected


def test_a_get_url_depends_on_the_signing_time_alone_not_the_clock() -> None:
    signer = make_get_signer(UploadSettings())
    at = SIGNED_AT.replace(tzinfo=UTC)
    first = signer.get_url("derivatives", KEYS[1], at, 1200)
    later = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    with mock.patch("botocore.auth.get_current_datetime", return_value=later):
        again = signer.get_url("derivatives", KEYS[1], at, 1200)
    assert again == first
    assert "X-Amz-Date=20261130T120000Z" in first
    assert "X-Amz-Expires=1200" in first
    # The same instant in another zone is the same instant.
    in_paris = at.astimezone(timezone(timedelta(hours=1)))
    assert signer.get_url("derivatives", KEYS[1], in_paris, 1200) == first
    assert signer.get_url("derivatives", KEYS[1], at + timedelta(seconds=1), 1200) != first


def test_an_unsigned_url_escapes_the_key_as_a_signed_one_does() -> None:
    settings = UploadSettings()
    signed = make_get_signer(settings).get_url(
        "derivatives", KEYS[2], SIGNED_AT.replace(tzinfo=UTC), 60
    )
    path = signed.split("?")[0].removeprefix(f"{settings.s3_public_endpoint}/derivatives")
    assert unsigned_url("https://cdn.example.test/", KEYS[2]) == f"https://cdn.example.test{path}"
