"""How the API answers while its database is down: 503 and a Retry-After, not a 500.

A refused connection, an exhausted pool or a statement cut off by a timeout is no fault
of the request: the client can send it again in a few seconds, and the answer says so.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from upload_service.batched_inserts import DatabaseUnavailable

log = structlog.get_logger(__name__)

# What the client reads; the cause (hosts, ports) stays in the log.
DETAIL = "the database is unavailable; try again in a few seconds"
# Seconds a client is asked to wait before it tries again.
RETRY_AFTER_SECONDS = 5


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("database.unavailable", path=request.url.path, error=str(error))
    return JSONResponse(
        {"detail": DETAIL},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def answer_outages(app: FastAPI) -> None:
    """Route every database outage error to a 503 (SQLAlchemy's, and the batched inserts')."""
    for kind in (OperationalError, PoolTimeout, DatabaseUnavailable):
        app.add_exception_handler(kind, _unavailable)
