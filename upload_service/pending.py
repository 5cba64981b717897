"""An upload about to happen: the checks on what a client announces, and its pending row.

Every way into the originals bucket through the API (``POST /api/uploads`` and Uppy's
Companion routes) checks the announcement and makes its row here, so the processor
finds the same kind of row whoever signed the upload.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import Connection, insert, select

from glowworm.models import Image, Status
from glowworm.storage import clean_filename, original_key
from upload_service.resources import Resources
from upload_service.schemas import IMAGE_CONTENT_TYPES


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
    # Invisible formatting characters (category Cf: right-to-left overrides, zero-width
    # joiners and spaces) make a name read as something it is not ("photo\u202egpj.exe").
    invisible = sorted({f"U+{ord(ch):04X}" for ch in filename if unicodedata.category(ch) == "Cf"})
    if invisible:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"file name {filename!r} has invisible formatting characters ({', '.join(invisible)})"
            "; rename the file without them",
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
    *,
    usable_until: datetime,
) -> dict[str, Any]:
    """The columns of the pending row of an upload about to happen, under a fresh key;
    ``usable_until`` is when its URL (or multipart upload) can no longer store it."""
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
        "upload_expires_at": usable_until,
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
            .where(
                Image.owner_id == owner_id,
                Image.sha256 == sha256.lower(),
                Image.deleted_at.is_(None),
            )
            .order_by(Image.id)
            .limit(1)
        ).first()
