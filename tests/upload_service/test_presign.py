"""The upload route's signer against boto3's own presigned URLs, and against MinIO."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from glowworm.storage import make_s3_client
from upload_service.presign import PutSigner
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
        ours = make_signer(settings).put_url("originals", key, "image/jpeg", size, 900)
    assert ours == expected
