"""POST /api/uploads: a presigned PUT straight into the originals bucket; and
POST /api/uploads/{id}/complete: the client's word that the PUT finished.

The API never touches the bytes; it makes the image row and signs a URL bound to the
announced content type and size. Processing starts when the object lands: MinIO's
bucket event says so, but MinIO keeps events on disk (``queue_dir``, so they survive a
broker outage) and sends them on a 3 s timer, about a second late on average. A client
that calls ``complete`` after its PUT has the ingest queued at once; MinIO's event then
finds the image registered and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import lazyload

from glowworm.models import Image, Status
from glowworm.storage import MISSING_OBJECT_CODES, clean_filename, original_key
from upload_service.broker import BrokerUnavailable
from upload_service.deps import CALLER_OPENAPI, CallerDep, ResourcesDep, utcnow
from upload_service.resources import Resources
from upload_service.schemas import (
    IMAGE_CONTENT_TYPES,
    DuplicateResponse,
    UploadCompleted,
    UploadInstructions,
    UploadRequest,
    UploadResponse,
)
from upload_service.views import pending_summary, status_summary

router = APIRouter(prefix="/api/uploads", tags=["uploads"])


def checked_upload(
    filename: str, content_type: str, size: int | None, max_bytes: int
) -> tuple[str, str]:
    """The cleaned file name and content type of an announced upload.

    Raises 4xx with a message a person can act on. ``size`` is None where the client
    does not announce one (Uppy's Companion calls); the store then enforces the limit.
    """
    cleaned_type = content_type.split(";", 1)[0].strip().lower()
    if cleaned_type not in IMAGE_CONTENT_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type!r} is not an image type we accept; "
            f"accepted: {', '.join(sorted(IMAGE_CONTENT_TYPES))}",
        )
    if size is not None and size > max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"file is {size} bytes; the largest accepted is {max_bytes} bytes",
        )
    name = clean_filename(filename)
    control = any(ord(ch) < 32 or ord(ch) == 127 for ch in filename)
    if control or not any(ch.isalnum() for ch in name):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"file name {filename!r} is empty, has control characters or no letters or digits",
        )
    return name, cleaned_type


def pending_row(
    owner_id: int,
    bucket: str,
    filename: str,
    content_type: str,
    size: int | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """The columns of the pending row of an upload about to happen, under a fresh key.

    Every way into the originals bucket through the API makes its row from here, so the
    processor finds the same kind of row whoever signed the upload.
    """
    return {
        "owner_id": owner_id,
        "bucket": bucket,
        "key": original_key(owner_id, filename),
        "original_filename": filename,
        "declared_content_type": content_type,
        "declared_size": size,
        "declared_sha256": sha256.lower() if sha256 else None,
        "processing_status": Status.PENDING,
        "thumbnail_status": Status.PENDING,
        "variant_status": Status.PENDING,
        "processing_attempts": 0,
    }


# Built once, so SQLAlchemy compiles it once; each call binds only the values.
_INSERT_IMAGE = insert(Image).returning(Image.id)


def new_image(connection: Connection, row: dict[str, Any]) -> Image:
    """The pending image of ``row``, inserted in the caller's transaction, with its id.

    Inserted with Core and returned outside any session: the ORM's unit of work costs
    more CPU than the rest of such a route.
    """
    return Image(id=connection.execute(_INSERT_IMAGE, row).scalar_one(), **row)


def earlier_copy(resources: Resources, owner_id: int, sha256: str) -> Image | None:
    """The owner's first image with this content hash, if there is one."""
    with resources.sessions() as session:
        return session.scalars(
            select(Image)
            .where(Image.owner_id == owner_id, Image.sha256 == sha256.lower())
            .order_by(Image.id)
            .limit(1)
        ).first()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse | DuplicateResponse,
    responses={200: {"model": DuplicateResponse, "description": "already uploaded"}},
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
    row = pending_row(
        caller.id, settings.originals_bucket, filename, content_type, body.size, body.sha256
    )
    image_id = await resources.inserts.insert(row)
    expires_at = utcnow() + timedelta(seconds=settings.presign_expiry_seconds)
    url = resources.put_signer.put_url(
        row["bucket"], row["key"], content_type, body.size, settings.presign_expiry_seconds
    )
    return UploadResponse(
        id=image_id,
        key=row["key"],
        bucket=row["bucket"],
        expires_at=expires_at,
        upload=UploadInstructions(method="PUT", url=url, headers={"Content-Type": content_type}),
        data=pending_summary(image_id),
    )


# The status summary reads only the image's own columns; its jobs and derivatives
# would cost two more queries on every upload.
_ROW_ONLY = (lazyload(Image.jobs), lazyload(Image.derivatives))


def _stored_version(resources: Resources, bucket: str, key: str) -> tuple[str, int]:
    """ETag and size of the object under ``key``; 409 if none is there yet."""
    try:
        head = resources.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if str(e.response.get("Error", {}).get("Code")) in MISSING_OBJECT_CODES:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"no object at {key!r} yet: PUT the file to the upload URL first",
            ) from e
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"the object store refused: {e}") from e
    except BotoCoreError as e:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"the object store could not be reached: {e}"
        ) from e
    return str(head.get("ETag", "")).strip('"'), int(head.get("ContentLength", 0))


@router.post(
    "/{image_id}/complete",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadCompleted,
    responses={
        200: {"model": UploadCompleted, "description": "already registered; nothing queued"},
        409: {"description": "nothing stored under the upload's key yet"},
        503: {"description": "the broker is down; MinIO's own event starts processing later"},
    },
    openapi_extra=CALLER_OPENAPI,
)
def complete_upload(
    image_id: int,
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
        if image is None or image.owner_id != caller.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
        bucket, key, registered_etag = image.bucket, image.key, image.etag
        summary = status_summary(image)
    etag, size = _stored_version(resources, bucket, key)
    if registered_etag == etag:
        response.status_code = status.HTTP_200_OK
        return UploadCompleted(id=image_id, etag=etag, queued=False, data=summary)
    try:
        resources.broker.publish_ingest(bucket, key, etag, size)
    except BrokerUnavailable as e:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"could not queue processing right now ({e}); nothing is lost: the storage's "
            "own notification of this upload still starts it (MinIO keeps the notification "
            "until the broker takes it)",
        ) from e
    return UploadCompleted(id=image_id, etag=etag, queued=True, data=summary)
