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
logs. A bad or missing token closes the socket with code 4401, and so does a token
revoked or expired while the socket is open (checked every 2 s); a user hears only
events of their own images, an admin hears all. A user may hold
``max_sockets_per_user`` sockets open on one API process; one more is closed with code
4429 (too many sockets) right after the auth frame.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from glowworm.tokens import token_for, usable_token_ids
from upload_service.hub import Closing, Listener, control
from upload_service.resources import Resources

log = structlog.get_logger(__name__)

router = APIRouter(tags=["realtime"])

# Seconds a client has to send its auth frame after connecting.
AUTH_TIMEOUT_SECONDS = 10.0
# Close codes (4000-4999 are the application's): no or bad token (or one revoked or
# expired while the socket was open), auth frame too late, too many sockets of one user.
CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
# How often open sockets' tokens are checked: a revoked token's sockets close within this.
RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _Who:
    user_id: int
    name: str
    is_admin: bool
    token_id: int


def _who(resources: Resources, token: str) -> _Who | None:
    with resources.sessions.begin() as session:
        row = token_for(session, token)
        if row is None:
            return None
        return _Who(row.user.id, row.user.name, row.user.is_admin, row.id)


def _ended(resources: Resources, token_ids: set[int]) -> set[int]:
    with resources.sessions() as session:
        return token_ids - usable_token_ids(session, token_ids)


async def watch_tokens(resources: Resources) -> None:
    """Close, within ``RECHECK_SECONDS``, every socket whose token was revoked or has
    expired: one query a round for all of this replica's sockets. Runs for the app's life."""
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        token_ids = resources.hub.token_ids()
        if not token_ids:
            continue
        try:
            ended = await run_in_threadpool(_ended, resources, token_ids)
        except Exception as e:  # the database is down: check again next round
            log.warning("ws.token_check_failed", error=str(e))
            continue
        if ended:
            closed = resources.hub.end_tokens(ended, CLOSE_UNAUTHORIZED, "token revoked or expired")
            log.info("ws.tokens_ended", tokens=sorted(ended), sockets=closed)


async def _authenticate(websocket: WebSocket, resources: Resources) -> _Who:
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
        if isinstance(message, Closing):
            await websocket.close(message.code, message.reason)
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
        who = await _authenticate(websocket, resources)
    except WebSocketDisconnect:
        return
    name, is_admin = who.name, who.is_admin
    most = resources.settings.max_sockets_per_user
    if resources.hub.sockets_of(who.user_id) >= most:
        log.info("ws.refused_too_many", user=name, most=most)
        await websocket.close(CLOSE_TOO_MANY, f"at most {most} open sockets per user")
        return
    listener = resources.hub.join(who.user_id, is_admin, who.token_id)
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
