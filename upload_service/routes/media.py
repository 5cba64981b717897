"""``GET /media/{image_id}/{size}``: the ``/file`` redirect for ``<img>`` tags.

A browser loading an image sends no Authorization header, so this route also accepts
the page session cookie (see ``browser_auth``). Everything else, including the fallback
to the original while a size is not ready, is ``files.file_redirect``'s, as for
``GET /api/images/{id}/file``.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import RedirectResponse

from upload_service.browser_auth import BrowserUserDep
from upload_service.deps import ImageId, ResourcesDep, SessionDep
from upload_service.files import file_redirect
from upload_service.schemas import refusals

router = APIRouter(prefix="/media", tags=["pages"], responses=refusals(401, 404, 422))


@router.get(
    "/{image_id}/{size}", status_code=status.HTTP_302_FOUND, response_class=RedirectResponse
)
def media(
    image_id: ImageId, size: str, user: BrowserUserDep, session: SessionDep, resources: ResourcesDep
) -> RedirectResponse:
    return file_redirect(session, user, resources, image_id, size)
