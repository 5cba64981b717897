"""Uppy Companion's S3 routes, so Uppy's AwsS3 plugin uploads straight into MinIO.

Point the plugin at the API (``companionEndpoint: 'https://api.example'`` in Uppy 6,
``companionUrl`` in earlier versions) and it calls, under ``/s3``:

- ``GET /params?filename=&type=``: a POST policy ``{method, url, fields, expires}``
- ``POST /multipart`` ``{filename, type, metadata}``: ``{key, uploadId, bucket}``
- ``GET /multipart/{uploadId}?key=``: the parts so far, ``[{PartNumber, ETag, Size}]``
- ``GET /multipart/{uploadId}/batch?key=&partNumbers=1,2``: ``{presignedUrls: {"1": url}}``
- ``GET /multipart/{uploadId}/{partNumber}?key=``: a presigned UploadPart ``{url, expires}``
- ``POST /multipart/{uploadId}/complete?key=`` ``{parts: [{PartNumber, ETag}]}``:
  ``{location, key, bucket}``
- ``DELETE /multipart/{uploadId}?key=``: abort, ``{}``

The shapes are Companion's (``packages/@uppy/companion/src/server/controllers/s3.ts``)
as Uppy 6.3's ``CompanionS3.ts`` reads them. Unlike Companion these routes need the
caller's token (bearer header, or the page session cookie: Uppy 6 sends no headers), and
each upload gets its image row exactly as ``POST /api/uploads`` makes it. Processing
starts when the object lands, as for any other upload; a multipart upload lands in
``complete`` here, so that route queues its ingest at once, as ``POST
/api/uploads/{id}/complete`` does, instead of waiting for MinIO's stored event. Errors
are ``{"detail": ...}`` with the same 4xx codes as ``POST /api/uploads``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from glowworm.lifecycle import MULTIPART_LIFETIME
from glowworm.models import Image, User
from upload_service import presign, store
from upload_service.broker import BrokerUnavailable
from upload_service.browser_auth import BrowserUserDep
from upload_service.deps import ResourcesDep, SessionDep, utcnow
from upload_service.pending import checked_upload, new_image, pending_row
from upload_service.resources import Resources
from upload_service.schemas import (
    CompanionComplete,
    CompanionCompleted,
    CompanionCreateMultipart,
    CompanionMultipartCreated,
    CompanionPart,
    CompanionSignedPart,
    CompanionSignedParts,
    CompanionUploadParameters,
)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/s3", tags=["uppy companion"])

# The lowest part number S3 accepts, and the highest.
FIRST_PART, LAST_PART = 1, 10000

KeyQuery = Annotated[str, Query(min_length=1, description="the object key from POST /multipart")]


def _pending_upload(session: SessionDep, user: User, resources: Resources, key: str) -> Image:
    """The caller's image row for ``key`` whose object has not landed yet; 404/409 if not."""
    image = session.scalars(
        select(Image).where(Image.bucket == resources.settings.originals_bucket, Image.key == key)
    ).one_or_none()
    if image is None or image.owner_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no upload of yours has key {key!r}")
    if image.etag is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{key!r} is already uploaded")
    return image


@router.get("/params", response_model=CompanionUploadParameters)
def upload_parameters(
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    type_: Annotated[str, Query(alias="type")] = "",
) -> CompanionUploadParameters:
    """A POST policy for one object, bound to the content type and the size limit."""
    settings = resources.settings
    name, content_type = checked_upload(filename, type_, None, settings.max_upload_bytes)
    expires_at = utcnow() + timedelta(seconds=settings.presign_expiry_seconds)
    image = new_image(
        session.connection(),
        pending_row(
            user.id, settings.originals_bucket, name, content_type, usable_until=expires_at
        ),
    )
    url, fields = presign.post_policy(
        resources.signer,
        image.bucket,
        image.key,
        content_type,
        settings.max_upload_bytes,
        settings.presign_expiry_seconds,
    )
    return CompanionUploadParameters(
        url=url, fields=fields, expires=settings.presign_expiry_seconds
    )


@router.post("/multipart", response_model=CompanionMultipartCreated)
def create_multipart(
    body: CompanionCreateMultipart,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionMultipartCreated:
    settings = resources.settings
    name, content_type = checked_upload(body.filename, body.type, None, settings.max_upload_bytes)
    # Parts are signed as the client asks for them; the upload itself lasts a day.
    expires_at = utcnow() + MULTIPART_LIFETIME
    image = new_image(
        session.connection(),
        pending_row(
            user.id, settings.originals_bucket, name, content_type, usable_until=expires_at
        ),
    )
    upload_id = store.create_multipart(resources.s3, image.bucket, image.key, content_type)
    return CompanionMultipartCreated(key=image.key, uploadId=upload_id, bucket=image.bucket)


@router.get("/multipart/{upload_id}", response_model=list[CompanionPart])
def list_parts(
    upload_id: str,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> list[dict[str, Any]]:
    image = _pending_upload(session, user, resources, key)
    return [
        {
            "PartNumber": part.number,
            "ETag": part.etag,
            "Size": part.size,
            "LastModified": part.last_modified,
        }
        for part in store.parts(resources.s3, image.bucket, image.key, upload_id)
    ]


def _sign_part(resources: Resources, image: Image, upload_id: str, part_number: int) -> str:
    return presign.part_url(
        resources.signer,
        image.bucket,
        image.key,
        upload_id,
        part_number,
        resources.settings.presign_expiry_seconds,
    )


@router.get("/multipart/{upload_id}/batch", response_model=CompanionSignedParts)
def sign_parts(
    upload_id: str,
    key: KeyQuery,
    part_numbers: Annotated[str, Query(alias="partNumbers", pattern=r"^\d+(,\d+)*$")],
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionSignedParts:
    """Presigned part URLs for several parts at once (Uppy 3 and 4 ask for batches)."""
    numbers = [int(n) for n in part_numbers.split(",")]
    if not all(FIRST_PART <= n <= LAST_PART for n in numbers):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"part numbers run from {FIRST_PART} to {LAST_PART}",
        )
    image = _pending_upload(session, user, resources, key)
    return CompanionSignedParts(
        presignedUrls={str(n): _sign_part(resources, image, upload_id, n) for n in numbers}
    )


@router.get("/multipart/{upload_id}/{part_number}", response_model=CompanionSignedPart)
def sign_part(
    upload_id: str,
    part_number: int,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionSignedPart:
    if not FIRST_PART <= part_number <= LAST_PART:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"part numbers run from {FIRST_PART} to {LAST_PART}",
        )
    image = _pending_upload(session, user, resources, key)
    return CompanionSignedPart(
        url=_sign_part(resources, image, upload_id, part_number),
        expires=resources.settings.presign_expiry_seconds,
    )


@router.post("/multipart/{upload_id}/complete", response_model=CompanionCompleted)
def complete_multipart(
    upload_id: str,
    key: KeyQuery,
    body: CompanionComplete,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionCompleted | JSONResponse:
    """Join the parts and queue the ingest; refuses (and aborts) an upload over the limit."""
    image = _pending_upload(session, user, resources, key)
    limit = resources.settings.max_upload_bytes
    total = sum(part.size for part in store.parts(resources.s3, image.bucket, key, upload_id))
    if total > limit:
        store.abort_multipart(resources.s3, image.bucket, key, upload_id)
        session.delete(image)
        # Returned, not raised: the row's removal must still be committed.
        return JSONResponse(
            {"detail": f"file is {total} bytes; the largest accepted is {limit} bytes"},
            status.HTTP_413_CONTENT_TOO_LARGE,
        )
    listed = [(part.part_number, part.etag) for part in body.parts]
    etag = store.complete_multipart(resources.s3, image.bucket, key, upload_id, listed)
    try:
        resources.broker.publish_ingest(image.bucket, key, etag, total)
    except BrokerUnavailable as e:
        # The upload itself went through; MinIO's event starts processing a little later.
        log.warning("companion.ingest_not_queued", key=key, error=str(e))
    public = resources.settings.s3_public_endpoint.rstrip("/")
    return CompanionCompleted(
        location=f"{public}/{image.bucket}/{quote(key)}", key=key, bucket=image.bucket
    )


@router.delete("/multipart/{upload_id}")
def abort_multipart(
    upload_id: str,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> dict[str, str]:
    """Drop the parts, and the image row, since nothing will land under that key."""
    image = _pending_upload(session, user, resources, key)
    store.abort_multipart(resources.s3, image.bucket, key, upload_id)
    session.delete(image)
    return {}
