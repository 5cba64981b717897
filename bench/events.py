"""When each bucket notification reached RabbitMQ, seen from a queue of our own.

Splits "PUT done -> thumbnails complete" into the store's part (MinIO -> RabbitMQ) and
the processors' part. The queue is bound to the shared events exchange, exclusive and
auto-deleted, so it goes away with the connection.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress

from kombu import Connection, Message, Queue

from glowworm.topology import Topology
from processor.notifications import MalformedEvent, parse
from upload_service.settings import UploadSettings

# Seconds between checks of the stop flag.
_POLL = 0.2


class EventWatch:
    """Arrival time (epoch seconds) of the first event for each key of one bucket."""

    def __init__(self, settings: UploadSettings, name: str) -> None:
        self.settings = settings
        self.bucket = settings.originals_bucket
        self.arrived: dict[str, float] = {}
        self._queue = Queue(
            f"{settings.queue_prefix}.bench-events-{name}",
            exchange=Topology.from_settings(settings).events,
            durable=False,
            exclusive=True,
            auto_delete=True,
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EventWatch:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("could not bind a queue to the events exchange")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with (
            Connection(self.settings.amqp_url, connect_timeout=10) as connection,
            connection.Consumer([self._queue], on_message=self._on_message, no_ack=True),
        ):
            self._ready.set()
            while not self._stop.is_set():
                with suppress(TimeoutError):
                    connection.drain_events(timeout=_POLL)

    def _on_message(self, message: Message) -> None:
        now = time.time()
        try:
            records = parse(message.body)
        except MalformedEvent:
            return
        for record in records:
            if record.bucket == self.bucket:
                self.arrived.setdefault(record.key, now)
