"""Uppy Companion's S3 routes, so Uppy's AwsS3 plugin uploads straight into MinIO.

Point the plugin at the API (``companionEndpoint: 'https://api.example'`` in Uppy 6,
``companionUrl`` in earlier versions) and it calls, under ``/s3``:

- ``GET /params?filename=&type=``: a POST policy ``{method, url, fields, expires}``
- ``POST /multipart`` ``{filename, type, metadata}``: ``{key, uploadId, bucket}``; the
  file's size must be declared, as ``size`` or ``metadata.size``
- ``GET /multipart/{uploadId}?key=``: the parts so far, ``[{PartNumber, ETag, Size}]``
- ``GET /multipart/{uploadId}/batch?key=&partNumbers=1,2``: ``{presignedUrls: {"1": url}}``
- ``GET /multipart/{uploadId}/{partNumber}?key=``: a presigned UploadPart ``{url, expires}``
- ``POST /multipart/{uploadId}/complete?key=`` ``{parts: [{PartNumber, ETag}]}``:
  ``{location, key, bucket}``
- ``DELETE /multipart/{uploadId}?key=``: abort, ``{}``

The shapes are Companion's (``packages/@uppy/companion/src/server/controllers/s3.ts``)
as Uppy 6.3's ``CompanionS3.ts`` reads them. Unlike Companion these routes need the
caller's token (bearer header, or the page session cookie: Uppy 6 sends no headers), and
a multipart upload gets its image row exactly as ``POST /api/uploads`` makes it. A GET
changes nothing, so ``GET /params`` makes no row: its POST policy carries a signed claim
of the caller (``glowworm.upload_claims``), and the processor makes the caller's row when
the object lands. Processing
starts when the object lands, as for any other upload; a multipart upload lands in
``complete`` here, so that route queues its ingest at once, as ``POST
/api/uploads/{id}/complete`` does, instead of waiting for MinIO's stored event. Errors
are ``{"detail": ...}`` with the same 4xx codes as ``POST /api/uploads``.

A multipart upload is bound to what it declared, so the size limit holds before a byte
is stored: the declared size is checked against the limit, each part URL is signed
with that part's exact length (``parts.PartPlan``), only the parts the size needs are
signed, at most ``MAX_SIGNED_PER_REQUEST`` a request, and the upload id is kept with the
image row, so every route answers only for the upload id its own row was created with. The routes
that start an upload count against the caller's rate limit on upload URLs and check
their storage quota, as ``POST /api/uploads`` does; a POST policy allows at most the
quota's free bytes.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from glowworm import upload_claims
from glowworm.lifecycle import MULTIPART_LIFETIME
from glowworm.models import Image, User
from glowworm.quotas import Quota
from glowworm.storage import original_key
from upload_service import presign, store
from upload_service.broker import BrokerUnavailable
from upload_service.browser_auth import BrowserUserDep
from upload_service.deps import KEY_MAX, PLAIN_TEXT, ResourcesDep, SessionDep, utcnow
from upload_service.parts import PartPlan
from upload_service.pending import checked_upload, new_image, pending_row
from upload_service.quotas import room_for
from upload_service.rate_limits import Limited
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
    refusals,
)

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/s3",
    tags=["uppy companion"],
    responses=refusals(401, 404, 409, 415, 422, 502),
)

# Part URLs one request may ask for (Uppy 6 asks for one at a time, Uppy 3 and 4 for
# a few); more is 422.
MAX_SIGNED_PER_REQUEST = 100

KeyQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=KEY_MAX,
        pattern=PLAIN_TEXT,
        description="the object key from POST /multipart",
    ),
]
UploadId = Annotated[
    str,
    Path(max_length=KEY_MAX, pattern=PLAIN_TEXT, description="the uploadId from POST /multipart"),
]


def _pending_upload(
    session: SessionDep, user: User, resources: Resources, key: str, upload_id: str
) -> Image:
    """The caller's image row for ``key`` and ``upload_id`` whose object has not landed
    yet; 404/409 if there is none."""
    image = session.scalars(
        select(Image).where(Image.bucket == resources.settings.originals_bucket, Image.key == key)
    ).one_or_none()
    if image is None or image.owner_id != user.id or image.multipart_upload_id != upload_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no upload of yours has key {key!r} and this upload id"
        )
    if image.etag is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{key!r} is already uploaded")
    return image


def _quota(resources: Resources, user: User) -> Quota:
    return Quota.of(resources.settings, user.quota_bytes, user.quota_images)


def _plan(image: Image) -> PartPlan:
    assert image.declared_size is not None  # create_multipart refuses an upload without one
    return PartPlan.for_size(image.declared_size)


def _sign_part(resources: Resources, image: Image, upload_id: str, part_number: int) -> str:
    """The URL of one part, signed with its length; 422 for a part the size does not need."""
    plan = _plan(image)
    try:
        size = plan.size_of(part_number)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"an upload of {plan.total} bytes has parts 1 to {plan.count} "
            f"of {plan.part_bytes} bytes (the last holds the rest); there is no part {part_number}",
        ) from None
    return resources.put_signer.part_url(
        image.bucket,
        image.key,
        upload_id,
        part_number,
        size,
        resources.settings.presign_expiry_seconds,
    )


# What the routes that start an upload may answer besides the usual 4xx.
_LIMITED = refusals(
    _403="over the caller's storage quota",
    _429="too many upload URLs asked for; wait Retry-After seconds",
)


@router.get("/params", response_model=CompanionUploadParameters, responses=_LIMITED)
def upload_parameters(
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
    type_: Annotated[str, Query(alias="type")] = "",
) -> CompanionUploadParameters:
    """A POST policy for one object, bound to the content type and the size limit (or
    the caller's free quota, if smaller).

    A GET changes nothing: no image row is made here. The policy fixes the key under the
    caller's prefix and a signed claim of the caller in the object's metadata, and the
    processor makes the row, the caller's, when the object lands (``upload_claims``).
    """
    settings = resources.settings
    resources.rate_limits.hit(Limited.PRESIGN, user.id)
    name, content_type = checked_upload(filename, type_, None, settings.max_upload_bytes)
    room = room_for(session, user.id, _quota(resources, user), None)
    key = original_key(user.id, name)
    url, fields = presign.post_policy(
        resources.signer,
        settings.originals_bucket,
        key,
        content_type,
        settings.max_upload_bytes if room is None else min(room, settings.max_upload_bytes),
        settings.presign_expiry_seconds,
        metadata={
            upload_claims.METADATA_NAME: upload_claims.sign(
                resources.claim_key.get(session), user.id, key
            )
        },
    )
    return CompanionUploadParameters(
        url=url, fields=fields, expires=settings.presign_expiry_seconds
    )


@router.post("/multipart", response_model=CompanionMultipartCreated, responses=_LIMITED)
def create_multipart(
    body: CompanionCreateMultipart,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionMultipartCreated:
    settings = resources.settings
    resources.rate_limits.hit(Limited.PRESIGN, user.id)
    size = body.declared_size()
    if size is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "declare the file's size in bytes, as 'size' or 'metadata.size' "
            "(Uppy: addFile({..., meta: {size: file.size}})); each part is signed for its length",
        )
    name, content_type = checked_upload(body.filename, body.type, size, settings.max_upload_bytes)
    room_for(session, user.id, _quota(resources, user), size)
    # Parts are signed as the client asks for them; the upload itself lasts a day.
    row = pending_row(
        user.id,
        settings.originals_bucket,
        name,
        content_type,
        size,
        usable_until=utcnow() + MULTIPART_LIFETIME,
    )
    # Started before the row is written, so the row names it; an upload whose row is never
    # written is aborted by the reconciler when its day is over.
    row["multipart_upload_id"] = store.create_multipart(
        resources.s3, row["bucket"], row["key"], content_type
    )
    image = new_image(session.connection(), row)
    return CompanionMultipartCreated(
        key=image.key, uploadId=row["multipart_upload_id"], bucket=image.bucket
    )


@router.get("/multipart/{upload_id}", response_model=list[CompanionPart])
def list_parts(
    upload_id: UploadId,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> list[dict[str, Any]]:
    image = _pending_upload(session, user, resources, key, upload_id)
    return [
        {
            "PartNumber": part.number,
            "ETag": part.etag,
            "Size": part.size,
            "LastModified": part.last_modified,
        }
        for part in store.parts(resources.s3, image.bucket, image.key, upload_id)
    ]


@router.get("/multipart/{upload_id}/batch", response_model=CompanionSignedParts)
def sign_parts(
    upload_id: UploadId,
    key: KeyQuery,
    part_numbers: Annotated[str, Query(alias="partNumbers", pattern=r"^\d+(,\d+)*$")],
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionSignedParts:
    """Presigned part URLs for several parts at once (Uppy 3 and 4 ask for batches)."""
    numbers = sorted({int(n) for n in part_numbers.split(",")})
    if len(numbers) > MAX_SIGNED_PER_REQUEST:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{len(numbers)} part URLs asked for; at most {MAX_SIGNED_PER_REQUEST} a request",
        )
    image = _pending_upload(session, user, resources, key, upload_id)
    return CompanionSignedParts(
        presignedUrls={str(n): _sign_part(resources, image, upload_id, n) for n in numbers}
    )


@router.get("/multipart/{upload_id}/{part_number}", response_model=CompanionSignedPart)
def sign_part(
    upload_id: UploadId,
    part_number: int,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionSignedPart:
    image = _pending_upload(session, user, resources, key, upload_id)
    return CompanionSignedPart(
        url=_sign_part(resources, image, upload_id, part_number),
        expires=resources.settings.presign_expiry_seconds,
    )


@router.post("/multipart/{upload_id}/complete", response_model=CompanionCompleted)
def complete_multipart(
    upload_id: UploadId,
    key: KeyQuery,
    body: CompanionComplete,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> CompanionCompleted | JSONResponse:
    """Join the parts and queue the ingest; refuses (and aborts) an upload over the limit,
    and refuses (keeping it, to be finished) one that does not hold the size it declared."""
    image = _pending_upload(session, user, resources, key, upload_id)
    limit = resources.settings.max_upload_bytes
    stored = store.parts(resources.s3, image.bucket, key, upload_id)
    total = sum(part.size for part in stored)
    if total > limit:
        store.abort_multipart(resources.s3, image.bucket, key, upload_id)
        session.delete(image)
        # Returned, not raised: the row's removal must still be committed.
        return JSONResponse(
            {"detail": f"file is {total} bytes; the largest accepted is {limit} bytes"},
            status.HTTP_413_CONTENT_TOO_LARGE,
        )
    plan = _plan(image)
    if total != plan.total:
        have = {part.number for part in stored}
        missing = [n for n in range(1, plan.count + 1) if n not in have]
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the stored parts hold {total} of the {plan.total} bytes declared; "
            f"parts not uploaded yet: {missing}",
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
    upload_id: UploadId,
    key: KeyQuery,
    user: BrowserUserDep,
    session: SessionDep,
    resources: ResourcesDep,
) -> dict[str, str]:
    """Drop the parts, and the image row, since nothing will land under that key."""
    image = _pending_upload(session, user, resources, key, upload_id)
    store.abort_multipart(resources.s3, image.bucket, key, upload_id)
    session.delete(image)
    return {}
