"""The signers against MinIO: what they signed goes through, nothing else."""

from __future__ import annotations

import base64
import hashlib
import uuid
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
    key = f"{uuid.uuid4().hex}/{KEYS[2]}"
    put = make_signer(settings).put_url(settings.originals_bucket, key, "image/jpeg", len(data), 60)
    assert put.headers == {"Content-Type": "image/jpeg", "If-None-Match": "*"}
    png = {**put.headers, "Content-Type": "image/png"}
    with httpx.Client(timeout=10) as http:
        wrong_type = http.put(put.url, content=data, headers=png)
        wrong_size = http.put(put.url, content=data + b"!", headers=put.headers)
        unconditional = http.put(put.url, content=data, headers={"Content-Type": "image/jpeg"})
        right = http.put(put.url, content=data, headers=put.headers)
        # The URL stores one object: the same PUT again replaces nothing.
        again = http.put(put.url, content=data[::-1], headers=put.headers)
    assert wrong_type.status_code == 403
    assert wrong_size.status_code == 403
    assert unconditional.status_code in (400, 403), unconditional.text
    assert right.status_code == 200, right.text
    assert again.status_code == 412, again.text
    assert "PreconditionFailed" in again.text
    stored = s3.get_object(Bucket=settings.originals_bucket, Key=key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"


def test_minio_refuses_bytes_other_than_the_declared_sha256(
    s3: S3Client, settings: UploadSettings
) -> None:
    data = b"the bytes whose digest was declared"
    key = f"{uuid.uuid4().hex}/declared.jpg"
    digest = hashlib.sha256(data).hexdigest()
    put = make_signer(settings).put_url(
        settings.originals_bucket, key, "image/jpeg", len(data), 60, sha256=digest
    )
    assert put.headers["x-amz-checksum-sha256"] == base64.b64encode(bytes.fromhex(digest)).decode()
    with httpx.Client(timeout=10) as http:
        other = http.put(put.url, content=data.upper(), headers=put.headers)
        unsent = {k: v for k, v in put.headers.items() if k != "x-amz-checksum-sha256"}
        without = http.put(put.url, content=data.upper(), headers=unsent)
        right = http.put(put.url, content=data, headers=put.headers)
    assert other.status_code == 400, other.text
    assert "XAmzContentChecksumMismatch" in other.text
    assert without.status_code in (400, 403), without.text
    assert right.status_code == 200, right.text
    assert s3.get_object(Bucket=settings.originals_bucket, Key=key)["Body"].read() == data


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
