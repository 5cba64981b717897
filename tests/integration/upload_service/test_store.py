"""The API's store adapter on real MinIO: each failure the store names, and no answer.

Routes never see botocore's errors: ``upload_service.store`` names each failure, and
``upload_service.outages`` gives it its answer, the same from every route.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CORPUS, Uploader
from upload_service import store
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STORE_OUTAGE = {"detail": "the object store is unavailable; try again in a few seconds"}


def test_each_failure_the_store_names_is_its_own_error(
    s3: S3Client, settings: UploadSettings
) -> None:
    bucket, key = settings.originals_bucket, f"store-test/{uuid.uuid4().hex}/photo.jpg"
    with pytest.raises(store.ObjectMissing, match="no object at"):
        store.head(s3, bucket, key)
    with pytest.raises(store.UploadMissing, match="no such multipart upload"):
        store.parts(s3, bucket, key, "no-such-upload-id")
    with pytest.raises(store.StoreRefused, match="NoSuchBucket"):
        store.create_multipart(s3, f"no-such-bucket-{uuid.uuid4().hex[:8]}", key, "image/jpeg")

    upload_id = store.create_multipart(s3, bucket, key, "image/jpeg")
    try:
        data = (CORPUS / "orientation-portrait-3.jpg").read_bytes()
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=data)
        (part,) = store.parts(s3, bucket, key, upload_id)
        assert (part.number, part.size) == (1, len(data))
        with pytest.raises(store.PartsMismatch, match="the parts do not match"):
            store.complete_multipart(s3, bucket, key, upload_id, [(1, '"0123456789abcdef"')])
        etag = store.complete_multipart(s3, bucket, key, upload_id, [(part.number, part.etag)])
    except BaseException:
        store.abort_multipart(s3, bucket, key, upload_id)
        raise
    assert store.head(s3, bucket, key) == store.StoredObject(etag=etag, size=len(data))
    with pytest.raises(store.UploadMissing):  # completed: no longer an upload
        store.parts(s3, bucket, key, upload_id)
    s3.delete_object(Bucket=bucket, Key=key)


def test_an_unknown_multipart_upload_is_a_404_to_list_or_complete(
    uploader: Uploader, make_token: Any, settings: UploadSettings
) -> None:
    client, headers = uploader.client, make_token()
    created = client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "big.jpg", "type": "image/jpeg", "metadata": {"size": 1000}},
    )
    assert created.status_code == 200, created.text
    key, upload_id = created.json()["key"], created.json()["uploadId"]
    # The row names the upload, but the store no longer has it (aborted behind the API's
    # back, as a lifecycle rule or an operator would).
    uploader.client.app.state.resources.s3.abort_multipart_upload(  # type: ignore[attr-defined]
        Bucket=settings.originals_bucket, Key=key, UploadId=upload_id
    )
    answers = [
        client.get(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key}),
        client.post(
            f"/s3/multipart/{upload_id}/complete",
            headers=headers,
            params={"key": key},
            json={"parts": [{"PartNumber": 1, "ETag": '"x"'}]},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"detail": "no such multipart upload"}
    # An upload id the row was not created with is not looked up in the store at all.
    unknown = client.get("/s3/multipart/no-such-upload", headers=headers, params={"key": key})
    assert unknown.status_code == 404, unknown.text
    assert "no upload of yours" in unknown.json()["detail"]
    client.delete(f"/s3/multipart/{upload_id}", headers=headers, params={"key": key})


def test_an_unreachable_store_is_a_503_to_try_again_from_every_route(
    settings: UploadSettings, make_token: Any
) -> None:
    """The API signs URLs without the store, so announcing an upload still works; every
    route that must ask the store answers 503 naming it, with a Retry-After."""
    headers = make_token()
    down = settings.model_copy(update={"s3_endpoint": "http://127.0.0.1:1"})
    with TestClient(create_app(down)) as client:
        announced = client.post(
            "/api/uploads",
            headers=headers,
            json={"filename": "photo.jpg", "content_type": "image/jpeg", "size": 1000},
        )
        assert announced.status_code == 201, announced.text
        answers = [
            client.post(f"/api/uploads/{announced.json()['id']}/complete", headers=headers),
            client.post(
                "/s3/multipart",
                headers=headers,
                json={"filename": "big.jpg", "type": "image/jpeg", "metadata": {"size": 1000}},
            ),
        ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == STORE_OUTAGE
        assert answer.headers["Retry-After"] == "5"


def test_a_refusing_store_is_a_502_that_quotes_neither_boto_nor_the_store(
    settings: UploadSettings, make_token: Any, uploader: Uploader
) -> None:
    """The store's and botocore's words name hosts, buckets and operations behind the API:
    they go to the log; the client reads what it can act on."""
    headers = make_token()
    # A store that answers, but refuses every request (the API's key is wrong).
    refusing = settings.model_copy(update={"s3_secret_key": "not-the-secret"})
    with TestClient(create_app(refusing)) as client:
        announced = client.post(
            "/api/uploads",
            headers=headers,
            json={"filename": "photo.jpg", "content_type": "image/jpeg", "size": 1000},
        )
        refused = client.post(f"/api/uploads/{announced.json()['id']}/complete", headers=headers)
        created = client.post(
            "/s3/multipart",
            headers=headers,
            json={"filename": "big.jpg", "type": "image/jpeg", "size": 1000},
        )
    internal = urlsplit(settings.s3_endpoint).netloc
    for answer in (refused, created):
        assert answer.status_code == 502, answer.text
        # The S3 error code, which is S3's and names nothing of ours, is all that is quoted.
        detail = answer.json()["detail"]
        assert detail.startswith("the object store refused the request ("), detail
        assert internal not in answer.text and "operation" not in answer.text
    # A part list that does not match: the S3 code, not its message.
    body = uploader.client.post(
        "/s3/multipart",
        headers=headers,
        json={"filename": "parts.jpg", "type": "image/jpeg", "size": 1000},
    ).json()
    url = uploader.client.get(
        f"/s3/multipart/{body['uploadId']}/1", headers=headers, params={"key": body["key"]}
    ).json()["url"]
    assert uploader.http.put(url, content=b"x" * 1000).status_code == 200
    mismatch = uploader.client.post(
        f"/s3/multipart/{body['uploadId']}/complete",
        headers=headers,
        params={"key": body["key"]},
        json={"parts": [{"PartNumber": 1, "ETag": "0123456789abcdef0123456789abcdef"}]},
    )
    assert mismatch.status_code == 422, mismatch.text
    assert mismatch.json()["detail"].startswith("the parts do not match the uploaded ones (")
    assert "operation" not in mismatch.text and settings.originals_bucket not in mismatch.text
    uploader.client.delete(
        f"/s3/multipart/{body['uploadId']}", headers=headers, params={"key": body["key"]}
    )
