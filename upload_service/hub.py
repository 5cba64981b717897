"""The sockets connected to this replica, and which status events each may hear.

Everything here runs on the event loop: the relay thread hands events over with
``loop.call_soon_threadsafe``. A listener that falls behind is not allowed to grow
without bound: its backlog is dropped and replaced by one ``resync`` message, and the
client reloads what it shows from the REST API (docs/ARCHITECTURE.md rule 10).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from glowworm.status_events import StatusEvent

# Messages one socket may have waiting before its backlog becomes a single resync.
MAX_BACKLOG = 256

# Sent to a listener when it missed events and must reload from the REST API.
RESYNC = "resync"
# WebSocket close code "Going Away" (RFC 6455): the server is shutting down.
GOING_AWAY = 1001


def control(kind: str, **fields: Any) -> dict[str, Any]:
    """A message about the connection rather than an image (``ready``, ``resync``, ...)."""
    return {"type": kind, **fields}


@dataclass(frozen=True)
class Closing:
    """Tells a socket to close with this code and reason instead of sending more."""

    code: int
    reason: str


@dataclass(eq=False)
class Listener:
    """One connected socket: whose events it hears, the token it signed in with, and
    what waits to be sent."""

    user_id: int
    is_admin: bool
    token_id: int
    outbox: asyncio.Queue[dict[str, Any] | Closing] = field(
        default_factory=lambda: asyncio.Queue(MAX_BACKLOG)
    )

    def close(self, code: int, reason: str) -> None:
        """Drop the backlog; the socket closes with ``code`` next."""
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(Closing(code, reason))

    def hears(self, event: StatusEvent) -> bool:
        return self.is_admin or event.owner_id == self.user_id

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a message; on overflow replace the backlog with one resync."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(control(RESYNC, reason="too many events; reload"))


class Hub:
    """Listeners of this replica; the relay publishes into it, sockets read from it."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def __len__(self) -> int:
        return len(self._listeners)

    def join(self, user_id: int, is_admin: bool, token_id: int) -> Listener:
        listener = Listener(user_id=user_id, is_admin=is_admin, token_id=token_id)
        self._listeners.add(listener)
        return listener

    def sockets_of(self, user_id: int) -> int:
        return sum(1 for listener in self._listeners if listener.user_id == user_id)

    def leave(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def publish(self, event: StatusEvent) -> None:
        """Hand the event to its owner's sockets and to every admin's."""
        body = event.to_body()
        for listener in self._listeners:
            if listener.hears(event):
                listener.offer(body)

    def resync(self, reason: str) -> None:
        """Tell every socket that events may have been missed (the relay reconnected)."""
        for listener in self._listeners:
            listener.offer(control(RESYNC, reason=reason))

    def token_ids(self) -> set[int]:
        return {listener.token_id for listener in self._listeners}

    def end_tokens(self, ended: set[int], code: int, reason: str) -> int:
        """Close every socket signed in with a token in ``ended``; how many."""
        closing = [listener for listener in self._listeners if listener.token_id in ended]
        for listener in closing:
            listener.close(code, reason)
        return len(closing)

    def close(self) -> None:
        """Ask every socket to close; used when the server shuts down."""
        for listener in self._listeners:
            listener.close(GOING_AWAY, "server shutting down")
