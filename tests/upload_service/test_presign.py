"""The upload route's signer against boto3's own presigned URLs, and against MinIO."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

import httpx
import pytest

from glowworm.storage import make_s3_client
from upload_service.presign import PutSigner
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KEYS = [
    "uploads/1/abc/cat.jpg",
    "uploads/7/f00/camera roll 2026 + summer (1).jpeg",
    "uploads/7/f00/naïve café ✓ 1+1=2 ~ #%&?.png",
]

SIGNED_AT = datetime(2026, 11, 30, 12, 0, 0)


def _signer(settings: UploadSettings) -> PutSigner:
    return PutSigner(
        settings.s3_public_endpoint,
        settings.s3_region,
        settings.s3_access_key,
        settings.s3_secret_key,
    )


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("size", [2_000_000, None])
def test_signed_url_is_the_one_boto3_makes(key: str, size: int | None) -> None:
    settings = UploadSettings()
    boto = make_s3_client(settings, public=True)
    params: dict[str, Any] = {"Bucket": "originals", "Key": key, "ContentType": "image/jpeg"}
    if size is not None:
        params["ContentLength"] = size
    # Both sign "now": hold botocore's clock still so the two signatures can be compared.
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        expected = boto.generate_presigned_url("put_object", Params=params, ExpiresIn=900)
        ours = _signer(settings).put_url("originals", key, "image/jpeg", size, 900)
    assert ours == expected


@pytest.mark.integration
def test_minio_takes_the_put_it_was_signed_for_and_nothing_else(
    s3: S3Client, settings: UploadSettings
) -> None:
    data = b"\xff\xd8 not really a jpeg, the store does not care"
    key = KEYS[2]
    url = _signer(settings).put_url(settings.originals_bucket, key, "image/jpeg", len(data), 60)
    with httpx.Client(timeout=10) as http:
        wrong_type = http.put(url, content=data, headers={"Content-Type": "image/png"})
        wrong_size = http.put(url, content=data + b"!", headers={"Content-Type": "image/jpeg"})
        right = http.put(url, content=data, headers={"Content-Type": "image/jpeg"})
    assert wrong_type.status_code == 403
    assert wrong_size.status_code == 403
    assert right.status_code == 200, right.text
    stored = s3.get_object(Bucket=settings.originals_bucket, Key=key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
