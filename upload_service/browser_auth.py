"""Auth for requests a page cannot add a header to: ``<img>`` links and Uppy's calls.

The pages keep the API token in localStorage and send ``Authorization: Bearer`` on
their own requests. Two kinds of request cannot carry it: an image the browser loads
for an ``<img>`` tag, and the Companion calls of Uppy's AwsS3 plugin (Uppy 6 issues
them with a bare ``fetch``). For those, ``POST /api/session`` opens a page session and
sets its opaque secret (never the token) in an HttpOnly, SameSite=Strict cookie, which
only same-site requests carry (so another site cannot make a signed-in browser create
uploads); it is ``Secure`` when the request came over TLS. The session works while its
token does (glowworm/tokens.py); signing out deletes it. A bearer header still wins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from glowworm.models import User
from glowworm.tokens import user_for_token, user_for_web_session
from upload_service.deps import SessionDep

# Cookie holding the page session's secret, for same-site requests that cannot send a header.
COOKIE_NAME = "glowworm_session"

_bearer = HTTPBearer(auto_error=False)


def browser_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller from a bearer header, else from the session cookie; 401 otherwise."""
    secret = request.cookies.get(COOKIE_NAME)
    if credentials is None and not secret:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing token: send 'Authorization: Bearer TOKEN', or sign in on a page"
            " (POST /api/session) so the browser carries it",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if credentials is not None:
        user = user_for_token(session, credentials.credentials)
    else:
        assert secret is not None
        user = user_for_web_session(session, secret)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown token" if credentials is not None else "signed out: sign in on a page again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


BrowserUserDep = Annotated[User, Depends(browser_user)]
