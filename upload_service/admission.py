"""Admission: no more requests in flight than the database pool has connections.

Sync routes and their ``yield`` dependencies run on anyio's worker threads, and the
session's teardown (commit, return the connection) needs a thread of its own. Under a
burst, every thread can end up waiting for a pooled connection that only a teardown
could free: a deadlock until the pool times out. Waiting here instead costs no thread.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class AdmissionLimit:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websockets hold a connection only briefly, at sign-in
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)
