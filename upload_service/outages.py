"""How the API answers when a dependency fails, so no route handles another library's errors.

A dependency that does not answer (the database refusing connections, an exhausted
pool, a statement cut off by a timeout, an object store that cannot be reached) is no
fault of the request: the client can send it again in a few seconds, so the answer is
503 with a Retry-After, not a 500. A WebSocket is closed with 1013 (try again later)
and the same words. Every OperationalError counts, a wrong password too: to a client
that is an outage as well, and the log line names the cause.

An object store that answers with an error is ``store``'s to name: an unknown multipart
upload is 404, parts that do not match 422, anything else 502.
"""

from __future__ import annotations

from typing import cast

import structlog
from fastapi import FastAPI, WebSocket, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import HTTPConnection
from starlette.types import ExceptionHandler

from glowworm.errors import DependencyUnavailable, FailureKind
from upload_service.store import ObjectMissing, PartsMismatch, StoreError, UploadMissing

log = structlog.get_logger(__name__)

# What the client reads, by what is down; the cause (hosts, ports) stays in the log.
_WHAT = {FailureKind.STORAGE: "the object store", FailureKind.BROKER: "the message broker"}
DETAIL = "the database is unavailable; try again in a few seconds"
# Seconds a client is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 5
# WebSocket close code "Try Again Later" (RFC 6455 registry).
WS_TRY_AGAIN_LATER = 1013

# The answer to each error the store names; any other store error is the store's fault.
_STORE_ANSWERS: dict[type[StoreError], int] = {
    ObjectMissing: status.HTTP_404_NOT_FOUND,
    UploadMissing: status.HTTP_404_NOT_FOUND,
    PartsMismatch: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def _detail(error: Exception) -> str:
    if isinstance(error, DependencyUnavailable) and error.kind in _WHAT:
        return f"{_WHAT[error.kind]} is unavailable; try again in a few seconds"
    return DETAIL


async def _unavailable(connection: HTTPConnection, error: Exception) -> JSONResponse | None:
    detail = _detail(error)
    cause = error.cause if isinstance(error, StoreError) else str(error)
    log.warning("dependency.unavailable", path=connection.url.path, detail=detail, error=cause)
    if isinstance(connection, WebSocket):
        await connection.close(WS_TRY_AGAIN_LATER, detail)
        return None
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _store_failed(connection: HTTPConnection, error: Exception) -> JSONResponse | None:
    if isinstance(error, DependencyUnavailable):  # the store did not answer at all
        return await _unavailable(connection, error)
    answer = next(
        (code for kind, code in _STORE_ANSWERS.items() if isinstance(error, kind)),
        status.HTTP_502_BAD_GATEWAY,
    )
    cause = error.cause if isinstance(error, StoreError) else ""
    log.warning("store.error", path=connection.url.path, status=answer, cause=cause)
    return JSONResponse({"detail": str(error)}, status_code=answer)


def answer_outages(app: FastAPI) -> None:
    """Route every dependency's failure to its answer (SQLAlchemy's, the batched inserts',
    the store's and the broker's)."""
    # One handler for both kinds of connection: Starlette's type names them apart.
    unavailable = cast(ExceptionHandler, _unavailable)
    for kind in (OperationalError, PoolTimeout, DependencyUnavailable):
        app.add_exception_handler(kind, unavailable)
    app.add_exception_handler(StoreError, cast(ExceptionHandler, _store_failed))
