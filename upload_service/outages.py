"""How the API answers while its database is down: 503 and a Retry-After, not a 500.

A refused connection, an exhausted pool or a statement cut off by a timeout is no fault
of the request: the client can send it again in a few seconds, and the answer says so.
A WebSocket is closed with 1013 (try again later) and the same words. Every
OperationalError counts, a wrong password too: to a client that is an outage as well,
and the log line names the cause.
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

from upload_service.batched_inserts import DatabaseUnavailable

log = structlog.get_logger(__name__)

# What the client reads; the cause (hosts, ports) stays in the log.
DETAIL = "the database is unavailable; try again in a few seconds"
# Seconds a client is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 5
# WebSocket close code "Try Again Later" (RFC 6455 registry).
WS_TRY_AGAIN_LATER = 1013


async def _unavailable(connection: HTTPConnection, error: Exception) -> JSONResponse | None:
    log.warning("database.unavailable", path=connection.url.path, error=str(error))
    if isinstance(connection, WebSocket):
        await connection.close(WS_TRY_AGAIN_LATER, DETAIL)
        return None
    return JSONResponse(
        {"detail": DETAIL},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def answer_outages(app: FastAPI) -> None:
    """Route every database outage error to a 503 (SQLAlchemy's, and the batched inserts')."""
    # One handler for both kinds of connection: Starlette's type names them apart.
    handler = cast(ExceptionHandler, _unavailable)
    for kind in (OperationalError, PoolTimeout, DatabaseUnavailable):
        app.add_exception_handler(kind, handler)
