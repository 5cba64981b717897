"""Which images a caller may see, and where each size of one is read.

``GET /api/images/{id}/file`` (bearer token) and ``GET /media/{id}/{size}`` (the page
session cookie, for ``<img>`` tags) answer the same way, from here: a 302 that a
browser may cache, to a URL that it may cache too.

- A signed URL is signed once per window (``signing_windows``): one image and size keep
  one URL for the window, and the redirect says, in ``Cache-Control: private,
  max-age``, how long it may be reused, never past the URL's expiry.
- A size that is not ready falls back to the original with ``private, no-cache``: the
  redirect must be asked again, or the original would stand in for the size long
  after it is ready.
- With ``GLOWWORM_PUBLIC_DERIVATIVES_URL`` set, a ready derivative redirects to
  ``{that}/{key}`` unsigned: its key never changes content (``glowworm/layout.py``).
  The redirect may be cached for one window, which bounds how long an overwritten
  original's old derivative is still pointed at. Originals are always signed.
"""

from __future__ import annotations

import time

from fastapi import HTTPException, status
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from glowworm.models import Derivative, Image, Status, User
from glowworm.sizes import SIZES_BY_NAME
from upload_service import presign, signing_windows
from upload_service.resources import Resources

# Sizes a file link serves: every derivative, and the original itself.
FILE_SIZES = ("original", *SIZES_BY_NAME)


def visible_image(session: Session, user: User, image_id: int) -> Image:
    """The image if the caller may see it; 404 otherwise (no hint that it exists), and
    for an image being deleted."""
    image = session.get(Image, image_id)
    if image is None or image.deleted_at or (image.owner_id != user.id and not user.is_admin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"image {image_id} not found")
    return image


def ready_derivative(image: Image, size: str) -> Derivative | None:
    """The derivative of ``size`` once its job is complete; None before, and for the
    original."""
    job_type = SIZES_BY_NAME[size].job if size in SIZES_BY_NAME else None
    ready = job_type is not None and any(
        job.job_type is job_type and job.status is Status.COMPLETE for job in image.jobs
    )
    if not ready:
        return None
    return next((d for d in image.derivatives if d.size == size), None)


def file_redirect(
    session: Session, user: User, resources: Resources, image_id: int, size: str
) -> RedirectResponse:
    """302 to a URL of the size asked for; the original while it is not ready."""
    if size not in FILE_SIZES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"size must be one of {', '.join(FILE_SIZES)}"
        )
    image = visible_image(session, user, image_id)
    settings = resources.settings
    derivative = ready_derivative(image, size)
    public = settings.public_derivatives_url
    if derivative is not None and public and derivative.bucket == settings.derivatives_bucket:
        url = presign.unsigned_url(public, derivative.key)
        return _redirect(url, f"private, max-age={settings.download_window_seconds}")
    now = time.time()
    window = signing_windows.window_at(
        now, settings.download_window_seconds, settings.download_expiry_seconds
    )
    bucket, key = image.bucket, image.key
    if derivative is not None:
        bucket, key = derivative.bucket, derivative.key
    url = resources.get_signer.get_url(bucket, key, window.signed_at, window.expires)
    if derivative is None and size != "original":
        return _redirect(url, "private, no-cache")
    return _redirect(url, f"private, max-age={window.max_age(now)}")


def _redirect(url: str, cache_control: str) -> RedirectResponse:
    return RedirectResponse(
        url, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": cache_control}
    )
