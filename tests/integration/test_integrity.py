"""Upload integrity on real MinIO (issue 17 pt 7): a declared SHA-256 is signed into the
PUT and MinIO checks it; an upload URL stores one object and cannot replace it; bytes
that are not the declared ones fail the image with a reason, and the original is kept."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from tests.conftest import CORPUS, Uploader
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = (CORPUS / "orientation-landscape-3.jpg").read_bytes()


def _photo() -> bytes:
    return PHOTO + uuid.uuid4().bytes  # decoders stop at the end-of-image marker


def _announce(uploader: Uploader, headers: dict[str, str], data: bytes, **extra: Any) -> Any:
    answer = uploader.client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": "checked.jpg", "content_type": "image/jpeg", "size": len(data), **extra},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _complete(uploader: Uploader, headers: dict[str, str], image_id: int) -> int:
    code: int = uploader.client.post(
        f"/api/uploads/{image_id}/complete", headers=headers
    ).status_code
    return code


def test_a_declared_sha256_is_signed_into_the_put_and_minio_refuses_other_bytes(
    uploader: Uploader, make_token: Any, processors: Any, s3: S3Client, settings: UploadSettings
) -> None:
    headers = make_token()
    data = _photo()
    digest = hashlib.sha256(data).hexdigest()
    body = _announce(uploader, headers, data, sha256=digest)
    put = body["upload"]
    assert "x-amz-checksum-sha256" in put["headers"]
    other = data[:-16] + uuid.uuid4().bytes  # same length, other bytes
    refused = uploader.http.put(put["url"], content=other, headers=put["headers"])
    assert refused.status_code == 400, refused.text
    assert "XAmzContentChecksumMismatch" in refused.text
    assert _complete(uploader, headers, body["id"]) == 409, "nothing was stored"
    assert uploader.http.put(put["url"], content=data, headers=put["headers"]).status_code == 200
    assert _complete(uploader, headers, body["id"]) == 202
    done = uploader.wait(headers, body["id"])
    assert done["processing_status"] == "complete", done
    stored = s3.get_object(Bucket=settings.originals_bucket, Key=body["key"])["Body"].read()
    assert stored == data


def test_an_upload_url_stores_one_object_and_a_second_put_replaces_nothing(
    uploader: Uploader, make_token: Any, processors: Any, s3: S3Client, settings: UploadSettings
) -> None:
    headers = make_token()
    data = _photo()
    body = uploader.upload(headers, data, "once.jpg")
    done = uploader.wait(headers, body["id"])
    assert done["processing_status"] == "complete"
    etag = uploader.client.get(f"/api/images/{body['id']}", headers=headers).json()["etag"]
    put = body["upload"]
    again = uploader.http.put(put["url"], content=_photo(), headers=put["headers"])
    assert again.status_code == 412, again.text
    assert "PreconditionFailed" in again.text
    stored = s3.get_object(Bucket=settings.originals_bucket, Key=body["key"])
    assert stored["Body"].read() == data
    image = uploader.client.get(f"/api/images/{body['id']}", headers=headers).json()
    assert (image["etag"], image["processing_status"]) == (etag, "complete")


def test_stored_bytes_other_than_the_declared_ones_fail_the_image_and_keep_the_original(
    uploader: Uploader, make_token: Any, processors: Any, s3: S3Client, settings: UploadSettings
) -> None:
    headers = make_token()
    declared = _photo()
    body = _announce(uploader, headers, declared, sha256=hashlib.sha256(declared).hexdigest())
    # Someone with write access to the bucket stores other bytes at the key first.
    written = _photo()
    s3.put_object(
        Bucket=settings.originals_bucket, Key=body["key"], Body=written, ContentType="image/jpeg"
    )
    assert _complete(uploader, headers, body["id"]) == 202
    failed = uploader.wait(headers, body["id"])
    assert failed["processing_status"] == "failed", failed
    assert failed["jobs"][0]["error_kind"] == "checksum_mismatch"
    assert (
        f"the stored file's SHA-256 is {hashlib.sha256(written).hexdigest()}, not the "
        f"{hashlib.sha256(declared).hexdigest()} declared for the upload"
        in failed["processing_error"]
    )
    kept = s3.get_object(Bucket=settings.originals_bucket, Key=body["key"])["Body"].read()
    assert kept == written
    # Retrying is one call, and says the same.
    retried = uploader.client.post(f"/api/images/{body['id']}/retry-processing", headers=headers)
    assert retried.status_code == 202, retried.text
    again = uploader.wait(headers, body["id"])
    assert again["processing_status"] == "failed"
    assert again["jobs"][0]["error_kind"] == "checksum_mismatch"
