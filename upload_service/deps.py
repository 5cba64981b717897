"""Dependencies: resources, a database session per request, the caller from its token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from glowworm.models import User
from glowworm.tokens import Caller, caller_for_token_hash, hash_token, user_for_token
from upload_service.resources import Resources

# Row ids are Postgres integers: a larger id names no row (404 would need a query that
# fails on it), so it is refused like any malformed parameter (422).
MAX_ROW_ID = 2**31 - 1
ImageId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the image's id")]
# An object key or upload id as a client sends it: no control characters (no key of
# ours has one; Postgres cannot even compare a NUL), and at most S3's 1024 bytes.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
KEY_MAX = 1024
# Where a page of a listing starts (no listing holds more rows than there are ids).
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID)]

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_resources(request: Request) -> Resources:
    # async: FastAPI runs a plain def dependency on a worker thread, a hop per request.
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_session(resources: ResourcesDep) -> Iterator[Session]:
    """A session whose transaction commits when the route returns without error."""
    with resources.sessions.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _presented_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer TOKEN'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def _unknown_token() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"}
    )


def current_user(session: SessionDep, credentials: BearerDep) -> User:
    user = user_for_token(session, _presented_token(credentials))
    if user is None:
        raise _unknown_token()
    return user


UserDep = Annotated[User, Depends(current_user)]


async def current_caller(request: Request) -> Caller:
    """The caller of a hot route: from the token cache, or one query on a worker thread.

    Runs on the event loop, the only place the cache is touched, so it needs no lock.
    It takes the request rather than ``ResourcesDep`` and ``BearerDep``: FastAPI's
    resolver costs a pass per dependency per request, and this is the upload route's.
    """
    resources: Resources = request.app.state.resources
    token_hash = hash_token(_presented_token(await _bearer(request)))
    caller = resources.callers.get(token_hash)
    if caller is None:
        caller = await run_in_threadpool(_lookup_caller, resources, token_hash)
        if caller is None:
            raise _unknown_token()
        resources.callers[token_hash] = caller
    return caller


def _lookup_caller(resources: Resources, token_hash: str) -> Caller | None:
    with resources.sessions() as session:
        return caller_for_token_hash(session, token_hash)


CallerDep = Annotated[Caller, Depends(current_caller)]
# What a route on CallerDep adds to its OpenAPI entry: the bearer scheme that
# BearerDep would have declared.
CALLER_OPENAPI: dict[str, Any] = {"security": [{"HTTPBearer": []}]}


def admin_user(user: UserDep) -> User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin token")
    return user


AdminDep = Annotated[User, Depends(admin_user)]


def utcnow() -> datetime:
    return datetime.now(UTC)
