"""WebSocket ``/api/ws``: status events of the caller's images as they happen.

Protocol (JSON text frames)::

    client -> {"type": "auth", "token": "gw_..."}          first frame, within 10 s
    server -> {"type": "ready", "user": "alice", "admin": false, "live": true}
    server -> {"type": "image:processing:complete", "image_id": 7, "owner_id": 1,
               "processing_status": "complete", "thumbnail_status": "complete",
               "variant_status": "complete", "error": null,
               "thumbnail_urls": {"small": "/api/images/7/file?size=small", ...}, "at": "..."}
    server -> {"type": "resync", "reason": "..."}            events may have been missed:
                                                              reload from the REST API
    client -> {"type": "ping"}   server -> {"type": "pong"}

The token comes in the first frame rather than the URL, so it never lands in access
logs. A bad or missing token closes the socket with code 4401; a user hears only
events of their own images, an admin hears all.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from glowworm.tokens import user_for_token
from upload_service.hub import Listener, control
from upload_service.resources import Resources

log = structlog.get_logger(__name__)

router = APIRouter(tags=["realtime"])

# Seconds a client has to send its auth frame after connecting.
AUTH_TIMEOUT_SECONDS = 10.0
# Close codes (4000-4999 are the application's): no or bad token, auth frame too late.
CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408


def _who(resources: Resources, token: str) -> tuple[int, str, bool] | None:
    with resources.sessions.begin() as session:
        user = user_for_token(session, token)
        return None if user is None else (user.id, user.name, user.is_admin)


async def _authenticate(websocket: WebSocket, resources: Resources) -> tuple[int, str, bool]:
    """The caller from the first frame; closes the socket and raises on failure."""
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await websocket.close(CLOSE_AUTH_TIMEOUT, "send {'type': 'auth', 'token': ...} first")
        raise WebSocketDisconnect(CLOSE_AUTH_TIMEOUT) from None
    try:
        frame = json.loads(first)
        token = frame["token"] if frame.get("type") == "auth" else None
    except (ValueError, TypeError, KeyError, AttributeError):
        token = None
    who = await run_in_threadpool(_who, resources, token) if isinstance(token, str) else None
    if who is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "unknown or missing token")
        raise WebSocketDisconnect(CLOSE_UNAUTHORIZED)
    return who


async def _send_events(websocket: WebSocket, listener: Listener) -> None:
    while True:
        message = await listener.outbox.get()
        if message is None:
            await websocket.close(status.WS_1001_GOING_AWAY, "server shutting down")
            return
        await websocket.send_json(message)


async def _read_frames(websocket: WebSocket) -> None:
    """Answer pings; return when the client goes away."""
    while True:
        text = await websocket.receive_text()
        try:
            frame: Any = json.loads(text)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await websocket.send_json(control("pong"))


@router.websocket("/api/ws")
async def status_socket(websocket: WebSocket) -> None:
    resources: Resources = websocket.app.state.resources
    await websocket.accept()
    try:
        user_id, name, is_admin = await _authenticate(websocket, resources)
    except WebSocketDisconnect:
        return
    listener = resources.hub.join(user_id, is_admin)
    log.info("ws.connected", user=name, admin=is_admin, sockets=len(resources.hub))
    try:
        await websocket.send_json(
            control("ready", user=name, admin=is_admin, live=resources.relay.connected)
        )
        tasks = {
            asyncio.create_task(_send_events(websocket, listener)),
            asyncio.create_task(_read_frames(websocket)),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                log.warning("ws.error", user=name, error=repr(error))
    except WebSocketDisconnect:
        pass
    finally:
        resources.hub.leave(listener)
        log.info("ws.disconnected", user=name, sockets=len(resources.hub))
