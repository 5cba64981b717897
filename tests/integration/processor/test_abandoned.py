"""Abandoned uploads on real MinIO, Postgres and RabbitMQ: a presigned upload that
stored nothing is expired once its URL has expired and drops out of the lists, and an
incomplete multipart upload is aborted."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi.testclient import TestClient
from kombu import Connection

from glowworm.provision import abort_incomplete_uploads
from glowworm.publishing import BrokerPublisher
from glowworm.topology import Topology
from processor.context import Context
from processor.reconciler import ReconcileReport, reconcile
from tests.conftest import CORPUS
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PHOTO = (CORPUS / "orientation-landscape-6.jpg").read_bytes()


def _announce(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    answer = client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": name, "content_type": "image/jpeg", "size": len(PHOTO)},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _reconcile(
    ctx: Context,
    abandoned_grace: timedelta = timedelta(hours=1),
    multipart_lifetime: timedelta = timedelta(days=1),
) -> ReconcileReport:
    """One pass with the processor's defaults, but for the limits given."""
    with Connection(ctx.settings.amqp_url) as connection:
        publisher = BrokerPublisher(connection.Producer(), Topology.from_settings(ctx.settings))
        return reconcile(
            ctx,
            publisher,
            abandoned_grace=abandoned_grace,
            multipart_lifetime=multipart_lifetime,
        )


def test_an_upload_that_stored_nothing_expires_and_leaves_the_lists(
    ctx: Context, s3: S3Client, settings: UploadSettings, make_token: Any
) -> None:
    own = settings.model_copy(
        update={"originals_bucket": ctx.settings.originals_bucket, "presign_expiry_seconds": 1}
    )
    owner = make_token()
    with TestClient(create_app(own)) as client, httpx.Client(timeout=30) as http:
        never = _announce(client, owner, f"never sent {uuid.uuid4().hex[:6]}.jpg")
        sent = _announce(client, owner, "sent, its event late.jpg")
        put = http.put(sent["upload"]["url"], content=PHOTO, headers=sent["upload"]["headers"])
        assert put.status_code == 200, put.text
        time.sleep(1.5)  # both URLs have expired
        refused = http.put(
            never["upload"]["url"], content=PHOTO, headers=never["upload"]["headers"]
        )
        assert refused.status_code == 403, refused.text

        # Within the grace period after its URL expired, nothing is expired yet.
        assert _reconcile(ctx).expired == 0
        report = _reconcile(ctx, abandoned_grace=timedelta(0))

        # The stored one is queued for processing, not expired.
        assert (report.expired, report.registered) == (1, 1), report
        listed = client.get("/api/images", headers=owner).json()["items"]
        assert [image["id"] for image in listed] == [sent["id"]]
        asked = client.get("/api/images", params={"status": "expired"}, headers=owner).json()
        assert [image["id"] for image in asked["items"]] == [never["id"]]
        shown = client.get(f"/api/images/{never['id']}", headers=owner).json()
        assert shown["processing_status"] == "expired"
        assert shown["processing_error"].startswith(
            "expired: nothing was uploaded before the upload URL expired at"
        )
        completed = client.post(f"/api/uploads/{never['id']}/complete", headers=owner)
        assert completed.status_code == 410, completed.text
        assert completed.json()["detail"].startswith(f"upload {never['id']} expired: nothing")
        # A second pass marks nothing again.
        assert _reconcile(ctx, abandoned_grace=timedelta(0)).expired == 0

        # Bytes that land under its key after all are processed like any upload (and
        # the first one's ingest is queued again: no processor reads this test's queues).
        s3.put_object(Bucket=own.originals_bucket, Key=never["key"], Body=PHOTO + b"late")
        assert _reconcile(ctx, abandoned_grace=timedelta(0)).registered == 2


def test_an_incomplete_multipart_upload_is_aborted_after_its_lifetime(
    ctx: Context, s3: S3Client, settings: UploadSettings, make_token: Any
) -> None:
    bucket = ctx.settings.originals_bucket
    # MinIO takes no lifecycle rule to abort them, so the reconciler does it.
    assert not abort_incomplete_uploads(s3, bucket)
    own = settings.model_copy(update={"originals_bucket": bucket})
    owner = make_token()
    with TestClient(create_app(own)) as client:
        created = client.post(
            "/s3/multipart",
            headers=owner,
            json={"filename": "big.jpg", "type": "image/jpeg", "metadata": {"size": 1000}},
        )
    assert created.status_code == 200, created.text
    upload_id = created.json()["uploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        upload_id
    ]
    time.sleep(1.1)

    assert _reconcile(ctx).aborted == 0  # younger than a day
    assert _reconcile(ctx, multipart_lifetime=timedelta(seconds=1)).aborted == 1

    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
