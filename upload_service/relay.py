"""The broker side of real-time status: status events in, handed to this replica's hub.

The processor publishes a ``StatusEvent`` to the fanout exchange ``<prefix>.status``
after each commit. Every upload_service replica binds its own exclusive, auto-delete
queue to it, so each replica hears every event and relays it to its own sockets; the
queue disappears with the replica. Events are a view of the database
(docs/ARCHITECTURE.md rule 10), so they are consumed without acknowledgements and may
be lost: after any gap (start-up, a reconnect) the relay asks clients to resync from
the REST API.

The consumer runs in one daemon thread. It never calls into the event loop itself;
it calls the two callbacks it was given, which the app wires to
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from kombu import Connection, Message, Queue

from glowworm.status_events import StatusEvent
from glowworm.topology import Topology

log = structlog.get_logger(__name__)

# Seconds between checks of the stop flag while waiting for events.
POLL_SECONDS = 1.0
# Reconnect delays: the first, and the longest (doubling between them).
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
# AMQP heartbeat, so a dead broker connection is noticed within about this long.
HEARTBEAT_SECONDS = 20


class StatusRelay:
    """Consumes status events in a background thread until ``stop()``."""

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        on_event: Callable[[StatusEvent], None],
        on_gap: Callable[[str], None],
    ) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.on_event = on_event
        self.on_gap = on_gap
        # Unique per replica: the queue is this process's alone.
        self.queue_name = (
            f"{topology.status.name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        )
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True while the queue is bound and consuming."""
        return self._connected.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="status-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming and wait for the thread; the broker then drops the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _queue(self) -> Queue:
        return Queue(
            self.queue_name,
            exchange=self.topology.status,
            routing_key="",
            durable=False,
            exclusive=True,
            auto_delete=True,
        )

    def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while not self._stop.is_set():
            connection = Connection(self.amqp_url, connect_timeout=5, heartbeat=HEARTBEAT_SECONDS)
            try:
                self._consume(connection)
                delay = FIRST_RETRY_SECONDS
            except (*connection.connection_errors, *connection.channel_errors, OSError) as e:
                log.warning("relay.disconnected", error=str(e), retry_in=delay)
            except Exception:
                # A bug must not silence real-time status for the replica's lifetime.
                log.exception("relay.failed", retry_in=delay)
            finally:
                self._connected.clear()
                connection.release()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, MAX_RETRY_SECONDS)
        log.info("relay.stopped")

    def _consume(self, connection: Connection) -> None:
        connection.connect()
        with connection.Consumer(
            [self._queue()], callbacks=[self._on_message], no_ack=True, accept=["json"]
        ):
            self._connected.set()
            log.info("relay.consuming", queue=self.queue_name)
            # Whatever happened while not consuming was missed: clients reload.
            self.on_gap("the server's event feed (re)connected")
            while not self._stop.is_set():
                try:
                    connection.drain_events(timeout=POLL_SECONDS)
                except TimeoutError:
                    connection.heartbeat_check()

    def _on_message(self, body: Any, message: Message) -> None:
        try:
            event = StatusEvent.from_body(body)
        except (KeyError, ValueError, TypeError) as e:
            log.warning("relay.malformed_event", error=str(e), body=repr(body)[:500])
            return
        self.on_event(event)
