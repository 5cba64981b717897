"""POST /api/uploads: a presigned PUT straight into the originals bucket; and
POST /api/uploads/{id}/complete: the client's word that the PUT finished.

The API never touches the bytes; it makes the image row and signs a URL bound to the
announced content type and size (and SHA-256, when announced), which stores one object
and cannot replace it (``presign.PutSigner.put_url``). Processing starts when the
object lands: MinIO's bucket event says so, but MinIO keeps events on disk
(``queue_dir``, so they survive a broker outage) and sends them on a 3 s timer, about a
second late on average. A client that calls ``complete`` after its PUT has the ingest
queued at once; MinIO's event then finds the image registered and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy.orm import lazyload

from glowworm.models import Image, Status
from glowworm.quotas import Quota
from upload_service import store
from upload_service.broker import BrokerUnavailable
from upload_service.deps import CALLER_OPENAPI, CallerDep, ImageId, ResourcesDep, utcnow
from upload_service.pending import checked_upload, earlier_copy, pending_row
from upload_service.quotas import room_for
from upload_service.rate_limits import Limited
from upload_service.resources import Resources
from upload_service.schemas import (
    DuplicateResponse,
    UploadCompleted,
    UploadInstructions,
    UploadRequest,
    UploadResponse,
    refusals,
)
from upload_service.views import pending_summary, status_summary

router = APIRouter(prefix="/api/uploads", tags=["uploads"], responses=refusals(401, 422))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse | DuplicateResponse,
    responses={
        200: {"model": DuplicateResponse, "description": "already uploaded"},
        **refusals(
            413,
            415,
            _403="over the caller's storage quota",
            _429="too many upload URLs asked for; wait Retry-After seconds",
        ),
    },
    openapi_extra=CALLER_OPENAPI,
)
async def create_upload(
    body: UploadRequest,
    caller: CallerDep,
    resources: ResourcesDep,
    response: Response,
) -> UploadResponse | DuplicateResponse:
    """The busiest route (one call per photo): async, its row inserted together with
    those of the requests beside it (upload_service/batched_inserts.py), the URL signed
    on the event loop."""
    settings = resources.settings
    resources.rate_limits.hit(Limited.PRESIGN, caller.id)
    filename, content_type = checked_upload(
        body.filename, body.content_type, body.size, settings.max_upload_bytes
    )
    if body.sha256:
        earlier = await anyio.to_thread.run_sync(
            earlier_copy, resources, caller.id, body.sha256, limiter=resources.upload_threads
        )
        if earlier is not None:
            response.status_code = status.HTTP_200_OK
            return DuplicateResponse(
                duplicate_of=earlier.duplicate_of_id or earlier.id, data=status_summary(earlier)
            )
    quota = Quota.of(settings, caller.quota_bytes, caller.quota_images)
    if not quota.unlimited:  # a query, so only for a user who has a quota
        await anyio.to_thread.run_sync(
            _check_quota, resources, caller.id, quota, body.size, limiter=resources.upload_threads
        )
    expires_at = utcnow() + timedelta(seconds=settings.presign_expiry_seconds)
    row = pending_row(
        caller.id,
        settings.originals_bucket,
        filename,
        content_type,
        body.size,
        body.sha256,
        usable_until=expires_at,
    )
    image_id = await resources.inserts.insert(row)
    put = resources.put_signer.put_url(
        row["bucket"],
        row["key"],
        content_type,
        body.size,
        settings.presign_expiry_seconds,
        sha256=body.sha256,
    )
    return UploadResponse(
        id=image_id,
        key=row["key"],
        bucket=row["bucket"],
        expires_at=expires_at,
        upload=UploadInstructions(method="PUT", url=put.url, headers=put.headers),
        data=pending_summary(image_id),
    )


def _check_quota(resources: Resources, owner_id: int, quota: Quota, size: int) -> None:
    with resources.sessions() as session:
        room_for(session, owner_id, quota, size)


# The status summary reads only the image's own columns; its jobs and derivatives
# would cost two more queries on every upload.
_ROW_ONLY = (lazyload(Image.jobs), lazyload(Image.derivatives))


@router.post(
    "/{image_id}/complete",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadCompleted,
    responses={
        200: {"model": UploadCompleted, "description": "already registered; nothing queued"},
        **refusals(
            404,
            _409="nothing stored under the upload's key yet",
            _410="the upload expired with nothing stored; ask for a new one",
            _503="the broker is down; MinIO's own event starts processing later",
        ),
    },
    openapi_extra=CALLER_OPENAPI,
)
def complete_upload(
    image_id: ImageId,
    caller: CallerDep,
    resources: ResourcesDep,
    response: Response,
) -> UploadCompleted:
    """Queue the ingest of an upload whose PUT finished, without waiting for MinIO's event.

    Only the owner may call it (others get 404). Calling it again, or after MinIO's
    event was processed, queues nothing and answers 200.
    """
    # Read the row and let the connection go: the HEAD and the publish after it can
    # take seconds when a store is slow, and must not hold a pooled connection.
    with resources.sessions() as session:
        image = session.get(Image, image_id, options=_ROW_ONLY)
        if image is None or image.deleted_at or image.owner_id != caller.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
        bucket, key, registered_etag = image.bucket, image.key, image.etag
        expired = image.processing_error if image.processing_status is Status.EXPIRED else None
        summary = status_summary(image)
    try:
        stored = store.head(resources.s3, bucket, key)
    except store.ObjectMissing as e:
        if expired:
            raise HTTPException(status.HTTP_410_GONE, f"upload {image_id} {expired}") from e
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"no object at {key!r} yet: PUT the file to the upload URL first",
        ) from e
    etag = stored.etag
    if registered_etag == etag:
        response.status_code = status.HTTP_200_OK
        return UploadCompleted(id=image_id, etag=etag, queued=False, data=summary)
    try:
        resources.broker.publish_ingest(bucket, key, etag, stored.size)
    except BrokerUnavailable as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"could not queue processing right now ({e}); nothing is lost: the storage's "
            "own notification of this upload still starts it (MinIO keeps the notification "
            "until the broker takes it)",
        ) from e
    return UploadCompleted(id=image_id, etag=etag, queued=True, data=summary)
