"""What the API asks of RabbitMQ: queue an ingest, publish a retry ahead of the backlog,
read queue depths.

Retries and the queue view are rare (a person clicks Retry, an admin opens the page), so
each opens its own short connection. An ingest is queued once per upload, so it goes
through a small pool of connections kept open for the life of the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from kombu import Connection
from kombu.exceptions import KombuError
from kombu.pools import ProducerPool

from glowworm.errors import DependencyUnavailable, FailureKind
from glowworm.ingest_messages import object_created_body, object_removed_body
from glowworm.job_messages import JobMessage
from glowworm.pipeline_control import ControlCommand
from glowworm.publishing import BrokerPublisher
from glowworm.topology import URGENT_KEY, Topology

# The ``eventSource`` of the ingests the API queues.
INGEST_SOURCE = "glowworm:upload-service"
# Connections kept open for queueing ingests; more requests at once wait for one.
PUBLISH_CONNECTIONS = 4
# Seconds a request waits for a free publishing connection before giving up.
ACQUIRE_TIMEOUT_SECONDS = 5.0
# A client is waiting: two quick retries (a stale pooled connection reconnects on the
# first), then give up, since MinIO's own event still starts the work.
INGEST_RETRY: dict[str, Any] = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
# Seconds to wait for the broker's confirm (a broker under a resource alarm never sends it).
CONFIRM_TIMEOUT_SECONDS = 5.0


class BrokerUnavailable(DependencyUnavailable):
    """RabbitMQ did not take the message: unreachable, refused, or no confirm in time."""

    def __init__(self, message: str) -> None:
        super().__init__(FailureKind.BROKER, message)


class Broker:
    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        # Lazy: nothing connects until the first ingest, so the app starts without a broker.
        self._connections = self._connect().Pool(limit=PUBLISH_CONNECTIONS)
        self._producers = ProducerPool(self._connections, limit=PUBLISH_CONNECTIONS)

    def _connect(self) -> Connection:
        return Connection(
            self.amqp_url, connect_timeout=5, transport_options={"confirm_publish": True}
        )

    def close(self) -> None:
        """Close the pooled publishing connections."""
        self._producers.force_close_all()
        self._connections.force_close_all()

    def publish_ingest(self, bucket: str, key: str, etag: str, size: int) -> None:
        """Queue the ingest of an object that landed, confirmed by the broker.

        Raises ``BrokerUnavailable`` when RabbitMQ cannot be reached, refuses the message,
        or does not confirm it within ``INGEST_RETRY``.
        """
        self._publish(object_created_body(bucket, key, etag, size, INGEST_SOURCE))

    def _publish(self, body: str) -> None:
        """Put a notification on the ingest queue over a pooled connection, confirmed."""
        try:
            with self._producers.acquire(block=True, timeout=ACQUIRE_TIMEOUT_SECONDS) as producer:
                publisher = BrokerPublisher(
                    producer, self.topology, INGEST_RETRY, confirm_timeout=CONFIRM_TIMEOUT_SECONDS
                )
                publisher.publish_ingest(body)
        except (KombuError, AMQPError, MessageNacked, OSError) as e:
            raise BrokerUnavailable(f"{type(e).__name__}: {e}") from e

    def publish_removal(self, bucket: str, key: str) -> None:
        """Queue the purge of an image whose original is deleted (``processor.removal``),
        as MinIO's own removal event would; raises ``BrokerUnavailable`` like
        ``publish_ingest``."""
        self._publish(object_removed_body(bucket, key, INGEST_SOURCE))

    def declare(self) -> None:
        with self._connect() as connection:
            self.topology.declare(connection)

    def publish_urgent(self, jobs: Iterable[JobMessage]) -> None:
        """Queue jobs on the urgent queue, which processors read before the backlog."""
        with self._connect() as connection:
            producer = connection.Producer(serializer="json")
            for job in jobs:
                producer.publish(
                    job.to_body(),
                    exchange=self.topology.jobs,
                    routing_key=URGENT_KEY,
                    delivery_mode=2,
                    retry=True,
                    retry_policy={"max_retries": 3},
                )

    def tell_processors(self, command: ControlCommand) -> None:
        """Nudge every running processor to pause or resume now."""
        with self._connect() as connection:
            connection.Producer(serializer="json").publish(
                {"command": command.value},
                exchange=self.topology.control,
                routing_key="",
                retry=True,
                retry_policy={"max_retries": 3},
            )

    def depths(self) -> list[tuple[str, int | None, int | None]]:
        """(queue, ready messages, consumers) for every work, delay and dead-letter queue."""
        rows: list[tuple[str, int | None, int | None]] = []
        with self._connect() as connection:
            for queue in self.topology.all_queues:
                try:
                    _, messages, consumers = queue(connection.channel()).queue_declare(passive=True)
                    rows.append((queue.name, int(messages), int(consumers)))
                except connection.channel_errors:
                    rows.append((queue.name, None, None))
        return rows
