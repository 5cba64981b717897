"""Which images a caller may see, and where each size of one is read.

``GET /api/images/{id}/file`` (bearer token) and ``GET /media/{id}/{size}`` (the page
session cookie, for ``<img>`` tags) answer the same way, from here.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from glowworm.models import Image, Status, User
from glowworm.sizes import SIZES_BY_NAME
from upload_service import presign
from upload_service.resources import Resources

# Sizes a file link serves: every derivative, and the original itself.
FILE_SIZES = ("original", *SIZES_BY_NAME)


def visible_image(session: Session, user: User, image_id: int) -> Image:
    """The image if the caller may see it; 404 otherwise (no hint that it exists)."""
    image = session.get(Image, image_id)
    if image is None or (image.owner_id != user.id and not user.is_admin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
    return image


def file_redirect(
    session: Session, user: User, resources: Resources, image_id: int, size: str
) -> RedirectResponse:
    """302 to a short-lived URL of the size asked for; the original while it is not ready."""
    if size not in FILE_SIZES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"size must be one of {', '.join(FILE_SIZES)}"
        )
    image = visible_image(session, user, image_id)
    bucket, key = image.bucket, image.key
    derivative = next((d for d in image.derivatives if d.size == size), None)
    job_type = SIZES_BY_NAME[size].job if size in SIZES_BY_NAME else None
    ready = job_type is not None and any(
        job.job_type is job_type and job.status is Status.COMPLETE for job in image.jobs
    )
    if derivative is not None and ready:
        bucket, key = derivative.bucket, derivative.key
    url = presign.get_url(resources.signer, bucket, key, resources.settings.download_expiry_seconds)
    return RedirectResponse(url, status_code=status.HTTP_302_FOUND)
