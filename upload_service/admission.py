"""Admission: what a request must bring before it may hold one of the API's few slots.

There are no more requests in flight than the database pool has connections. Sync
routes and their ``yield`` dependencies run on anyio's worker threads, and the
session's teardown (commit, return the connection) needs a thread of its own. Under a
burst, every thread can end up waiting for a pooled connection that only a teardown
could free: a deadlock until the pool times out. Waiting here instead costs no thread.

A slot is scarce, so nobody may hold one while doing nothing:

- The whole body is read first, before any slot is taken, within ``body_timeout``
  seconds (else 408) and up to ``max_body_bytes`` (else 413; a Content-Length above it
  is refused before a byte is read). The API takes only small JSON bodies (the image
  bytes go straight to the object store), so a client that trickles a body is not slow,
  it is stalling.
- A request that presents no credentials (no ``Authorization`` header, no session
  cookie) takes no slot: every route that touches the database refuses it with 401
  before its first query, and the rest (health, pages, static files) need none.

So anonymous clients, however many and however slow, cannot keep a signed-in user or
a health check waiting. A request that presents a token takes a slot and its route
checks the token (one indexed query, or the token cache).
"""

from __future__ import annotations

import asyncio
import json

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upload_service.browser_auth import COOKIE_NAME


class BodyRefused(Exception):
    """The body came too slowly or is too large: answer ``status`` with ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class AdmissionLimit:
    def __init__(
        self, app: ASGIApp, *, limit: int, body_timeout: float, max_body_bytes: int
    ) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)
        self.body_timeout = body_timeout
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websockets hold a connection only briefly, at sign-in
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except BodyRefused as refused:
            await _refuse(send, refused)
            return
        replay = _replaying(body, receive)
        if not _presents_credentials(scope):
            await self.app(scope, replay, send)
            return
        async with self.slots:
            await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _too_large(self.max_body_bytes)
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":  # the client went away
                        return b""
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > self.max_body_bytes:
                        raise _too_large(self.max_body_bytes)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise BodyRefused(
                408, f"the request body did not arrive within {self.body_timeout:g} s"
            ) from None


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, f"the request body is larger than {limit} bytes")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _presents_credentials(scope: Scope) -> bool:
    headers = Headers(scope=scope)
    if "authorization" in headers:
        return True
    return COOKIE_NAME in cookie_parser(headers.get("cookie", ""))


async def _refuse(send: Send, refused: BodyRefused) -> None:
    body = json.dumps({"detail": refused.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not read: the connection cannot serve another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
