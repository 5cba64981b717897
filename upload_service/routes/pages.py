"""The web app: Upload, Gallery and Admin pages, and the session they sign in with.

The pages are static files (no build step); they ask for the API token once, keep it
in localStorage and send it as a bearer header. ``POST /api/session`` checks the token
and opens a page session, whose opaque secret goes into an HttpOnly cookie for the
requests a page cannot add a header to (see ``browser_auth``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from glowworm.tokens import SESSION_LIFETIME, close_web_session, open_web_session, token_for
from upload_service.browser_auth import COOKIE_NAME
from upload_service.deps import ResourcesDep, SessionDep
from upload_service.resources import Resources
from upload_service.schemas import SessionOut, refusals
from upload_service.security_headers import page_policy

router = APIRouter(tags=["pages"])

STATIC = Path(__file__).parent.parent / "static"
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


@router.post("/api/session", response_model=SessionOut, responses=refusals(401))
def sign_in(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(_bearer)],
    request: Request,
    response: Response,
) -> SessionOut:
    """Check the bearer token and set the cookie of a new page session for it."""
    token = token_for(session, credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
        )
    response.set_cookie(
        COOKIE_NAME,
        open_web_session(session, token),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        # Over TLS, directly or through a proxy uvicorn trusts (X-Forwarded-Proto from
        # --forwarded-allow-ips, 127.0.0.1 by default).
        secure=request.url.scheme == "https",
    )
    return SessionOut(user=token.user.name, admin=token.user.is_admin)


@router.delete("/api/session", status_code=204, response_class=Response)
def sign_out(request: Request, session: SessionDep) -> Response:
    """End the page session: the cookie stops working, here and wherever it was copied."""
    if secret := request.cookies.get(COOKIE_NAME):
        close_web_session(session, secret)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
