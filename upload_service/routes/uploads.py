"""POST /api/uploads: a presigned PUT straight into the originals bucket.

The API never touches the bytes; it makes the image row and signs a URL bound to the
announced content type and size. Processing starts when the object lands.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from glowworm.models import Image, Status, User
from glowworm.storage import clean_filename, original_key
from upload_service.deps import ResourcesDep, SessionDep, UserDep, utcnow
from upload_service.schemas import (
    IMAGE_CONTENT_TYPES,
    DuplicateResponse,
    UploadInstructions,
    UploadRequest,
    UploadResponse,
)
from upload_service.views import status_summary

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


def new_image(
    session: Session,
    user: User,
    bucket: str,
    filename: str,
    content_type: str,
    size: int | None = None,
    sha256: str | None = None,
) -> Image:
    """The pending row of an upload about to happen, under a fresh key; flushed for its id.

    Every way into the originals bucket through the API makes its row here, so the
    processor finds the same kind of row whoever signed the upload.
    """
    image = Image(
        owner_id=user.id,
        bucket=bucket,
        key=original_key(user.id, filename),
        original_filename=filename,
        declared_content_type=content_type,
        declared_size=size,
        declared_sha256=sha256.lower() if sha256 else None,
        processing_status=Status.PENDING,
        thumbnail_status=Status.PENDING,
        variant_status=Status.PENDING,
        processing_attempts=0,
    )
    session.add(image)
    session.flush()
    return image


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse | DuplicateResponse,
    responses={200: {"model": DuplicateResponse, "description": "already uploaded"}},
)
def create_upload(
    body: UploadRequest,
    user: UserDep,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
) -> UploadResponse | DuplicateResponse:
    settings = resources.settings
    filename, content_type = checked_upload(
        body.filename, body.content_type, body.size, settings.max_upload_bytes
    )
    if body.sha256:
        existing = session.scalars(
            select(Image)
            .where(Image.owner_id == user.id, Image.sha256 == body.sha256.lower())
            .order_by(Image.id)
            .limit(1)
        ).first()
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            return DuplicateResponse(
                duplicate_of=existing.duplicate_of_id or existing.id, data=status_summary(existing)
            )
    image = new_image(
        session, user, settings.originals_bucket, filename, content_type, body.size, body.sha256
    )
    expires_at = utcnow() + timedelta(seconds=settings.presign_expiry_seconds)
    url = resources.signer.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": image.bucket,
            "Key": image.key,
            "ContentType": content_type,
            "ContentLength": body.size,
        },
        ExpiresIn=settings.presign_expiry_seconds,
    )
    return UploadResponse(
        id=image.id,
        key=image.key,
        bucket=image.bucket,
        expires_at=expires_at,
        upload=UploadInstructions(method="PUT", url=url, headers={"Content-Type": content_type}),
        data=status_summary(image),
    )
