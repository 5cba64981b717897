"""What the API asks of RabbitMQ: publish a retry ahead of the backlog, read queue depths.

Both are rare (a person clicks Retry, an admin opens the queue view), so each call
opens its own short connection instead of holding one per worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from kombu import Connection

from glowworm.job_messages import JobMessage
from glowworm.pipeline_control import ControlCommand
from glowworm.topology import URGENT_KEY, Topology


class Broker:
    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self.amqp_url = amqp_url
        self.topology = topology

    def _connect(self) -> Connection:
        return Connection(
            self.amqp_url, connect_timeout=5, transport_options={"confirm_publish": True}
        )

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
