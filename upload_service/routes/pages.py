"""The web app: Upload, Gallery and Admin pages, and the session they sign in with.

The pages are static files (no build step); they ask for the API token once, keep it
in localStorage and send it as a bearer header. ``POST /api/session`` checks the token
and copies it into an HttpOnly cookie for the requests a page cannot add a header to
(see ``browser_auth``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from upload_service.browser_auth import COOKIE_NAME
from upload_service.deps import ResourcesDep, UserDep
from upload_service.resources import Resources
from upload_service.schemas import SessionOut
from upload_service.security_headers import page_policy

router = APIRouter(tags=["pages"])

STATIC = Path(__file__).parent.parent / "static"
# How long the session cookie lasts; the pages renew it on every load.
COOKIE_MAX_AGE = 30 * 24 * 3600

_bearer = HTTPBearer()


def _page(resources: Resources, name: str) -> FileResponse:
    headers = {
        # Pages change with deployments; revalidate so a browser never mixes versions.
        "Cache-Control": "no-cache",
        "Content-Security-Policy": page_policy(resources.settings),
    }
    return FileResponse(STATIC / name, headers=headers)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/upload")


@router.get("/upload", include_in_schema=False)
def upload_page(resources: ResourcesDep) -> FileResponse:
    return _page(resources, "upload.html")


@router.get("/gallery", include_in_schema=False)
def gallery_page(resources: ResourcesDep) -> FileResponse:
    return _page(resources, "gallery.html")


@router.get("/admin", include_in_schema=False)
def admin_page(resources: ResourcesDep) -> FileResponse:
    return _page(resources, "admin.html")


@router.post("/api/session", response_model=SessionOut)
def sign_in(
    user: UserDep,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(_bearer)],
    request: Request,
    response: Response,
) -> SessionOut:
    """Check the bearer token and set the session cookie that carries it."""
    response.set_cookie(
        COOKIE_NAME,
        credentials.credentials,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SessionOut(user=user.name, admin=user.is_admin)


@router.delete("/api/session", status_code=204, response_class=Response)
def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
