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


def control(kind: str, **fields: Any) -> dict[str, Any]:
    """A message about the connection rather than an image (``ready``, ``resync``, ...)."""
    return {"type": kind, **fields}


@dataclass(eq=False)
class Listener:
    """One connected socket: whose events it hears, and what waits to be sent."""

    user_id: int
    is_admin: bool
    # ``None`` tells the socket to close: the server is shutting down.
    outbox: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(MAX_BACKLOG)
    )

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

    def join(self, user_id: int, is_admin: bool) -> Listener:
        listener = Listener(user_id=user_id, is_admin=is_admin)
        self._listeners.add(listener)
        return listener

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

    def close(self) -> None:
        """Ask every socket to close; used when the server shuts down."""
        for listener in self._listeners:
            while not listener.outbox.empty():
                listener.outbox.get_nowait()
            listener.outbox.put_nowait(None)
