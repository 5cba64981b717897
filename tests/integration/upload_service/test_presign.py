"""The signers against MinIO: what they signed goes through, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from tests.upload_service.test_presign import KEYS, make_get_signer, make_signer
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_minio_takes_the_put_it_was_signed_for_and_nothing_else(
    s3: S3Client, settings: UploadSettings
) -> None:
    data = b"\xff\xd8 not really a jpeg, the store does not care"
    key = KEYS[2]
    url = make_signer(settings).put_url(settings.originals_bucket, key, "image/jpeg", len(data), 60)
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


def test_minio_takes_a_get_signed_in_the_past_until_it_expires(
    s3: S3Client, settings: UploadSettings
) -> None:
    data = b"signed at the start of a window"
    key = KEYS[1]
    s3.put_object(Bucket=settings.derivatives_bucket, Key=key, Body=data)
    signer = make_get_signer(settings)
    now = datetime.now(UTC)
    still_valid = signer.get_url(settings.derivatives_bucket, key, now - timedelta(minutes=14), 900)
    expired = signer.get_url(settings.derivatives_bucket, key, now - timedelta(minutes=16), 900)
    with httpx.Client(timeout=10) as http:
        good = http.get(still_valid)
        late = http.get(expired)
    assert good.status_code == 200, good.text
    assert good.content == data
    assert late.status_code == 403
