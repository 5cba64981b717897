"""Deleting an image, from the API and with an S3 tool, on real services and processors:
the original, every derivative and the row are gone, and nobody else's are touched."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glowworm.layout import derivative_prefix
from glowworm.manifests import MANIFEST_NAME
from glowworm.settings import Settings
from glowworm.sizes import ALL_SIZES
from tests.conftest import CORPUS, Uploader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = (CORPUS / "orientation-landscape-6.jpg").read_bytes()


def _photo() -> bytes:
    """The photo with bytes of its own after its end: no other test's duplicate."""
    return PHOTO + uuid.uuid4().bytes


def _listed(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def _manifest_written(s3: S3Client, settings: Settings, prefix: str) -> bool:
    return prefix + MANIFEST_NAME in _listed(s3, settings.derivatives_bucket, prefix)


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.2)


def _image_id(uploader: Uploader, headers: dict[str, str], key: str) -> int:
    def found() -> bool:
        return bool(_by_key(uploader, headers, key))

    _until(found, f"registered {key!r}")
    image_id: int = _by_key(uploader, headers, key)[0]["id"]
    return image_id


def _by_key(uploader: Uploader, headers: dict[str, str], key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = uploader.client.get(
        "/api/images", params={"key": key}, headers=headers
    ).json()["items"]
    return items


def test_the_owner_deletes_an_image_and_everything_of_it_goes(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    owner, stranger = make_token(), make_token()
    body = uploader.upload(owner, _photo(), "to delete.jpg")
    image_id, key = body["id"], body["key"]
    assert uploader.wait(owner, image_id)["processing_status"] == "complete"
    prefix = derivative_prefix(settings.originals_bucket, key)
    # The manifest comes last, once every size is stored.
    _until(lambda: _manifest_written(s3, settings, prefix), "a manifest")
    assert len(_listed(s3, settings.derivatives_bucket, prefix)) == len(ALL_SIZES) + 1

    refused = uploader.client.delete(f"/api/images/{image_id}", headers=stranger)
    assert refused.status_code == 404, refused.text
    assert _listed(s3, settings.originals_bucket, key) == [key]
    assert uploader.client.get(f"/api/images/{image_id}", headers=owner).status_code == 200

    deleted = uploader.client.delete(f"/api/images/{image_id}", headers=owner)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json() == {"id": image_id, "status": "deleting"}
    # Gone from every route at once, and the original from the bucket.
    assert uploader.client.get(f"/api/images/{image_id}", headers=owner).status_code == 404
    assert _by_key(uploader, owner, key) == []
    assert _listed(s3, settings.originals_bucket, key) == []

    def purged() -> bool:
        again = uploader.client.delete(f"/api/images/{image_id}", headers=owner)
        assert again.status_code in (202, 404), again.text  # 202 until purged, then 404
        return again.status_code == 404

    _until(purged, "purged")
    assert _listed(s3, settings.derivatives_bucket, prefix) == []


def test_an_s3_tool_delete_removes_the_derivatives_and_the_row(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    admin = make_token(admin=True)
    key = f"tool uploads/{uuid.uuid4().hex[:8]}/rm me + café.jpg"
    s3.put_object(Bucket=settings.originals_bucket, Key=key, Body=_photo())
    image_id = _image_id(uploader, admin, key)
    assert uploader.wait(admin, image_id)["processing_status"] == "complete"
    prefix = derivative_prefix(settings.originals_bucket, key)
    # The manifest comes last, once every size is stored.
    _until(lambda: _manifest_written(s3, settings, prefix), "a manifest")
    assert len(_listed(s3, settings.derivatives_bucket, prefix)) == len(ALL_SIZES) + 1

    s3.delete_object(Bucket=settings.originals_bucket, Key=key)  # aws s3 rm

    _until(lambda: not _listed(s3, settings.derivatives_bucket, prefix), "derivatives removed")
    _until(lambda: not _by_key(uploader, admin, key), "row removed")
    answer = uploader.client.get(f"/api/images/{image_id}", headers=admin)
    assert answer.status_code == 404


def test_an_upload_deleted_before_its_put_is_never_processed(
    uploader: Uploader, make_token: Any, s3: S3Client, settings: Settings, processors: Any
) -> None:
    owner = make_token()
    data = _photo()
    answer = uploader.client.post(
        "/api/uploads",
        headers=owner,
        json={"filename": "changed my mind.jpg", "content_type": "image/jpeg", "size": len(data)},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    deleted = uploader.client.delete(f"/api/images/{body['id']}", headers=owner)
    assert deleted.status_code == 202, deleted.text

    # The presigned PUT still works (S3 cannot take a URL back); what it stores is removed.
    put = uploader.http.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
    assert put.status_code == 200, put.text
    _until(lambda: not _listed(s3, settings.originals_bucket, body["key"]), "original removed")
    prefix = derivative_prefix(settings.originals_bucket, body["key"])
    assert _listed(s3, settings.derivatives_bucket, prefix) == []
    assert uploader.client.get(f"/api/images/{body['id']}", headers=owner).status_code == 404
    assert _by_key(uploader, owner, body["key"]) == []
