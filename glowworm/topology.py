"""Every exchange and queue the project uses, declared in one place.

::

    MinIO --(fanout)--> <events_exchange> ------------------------> <p>.ingest
    processor --> <p>.jobs (direct) --"ingest"--------------------> <p>.ingest
                                    --"thumbnail"-----------------> <p>.thumbnails
                                    --"variant"-------------------> <p>.variants
                                    --"urgent"--------------------> <p>.urgent (retries asked for)
    retry later --> <p>.delay.N (fanout) --> <p>.delay.N --(TTL expires, dead-lettered
                                              with the original routing key)--> <p>.jobs
    given up / poison --> <p>.dead (fanout) --> <p>.dead
    status events --> <p>.status (fanout) --> one auto-delete queue per upload_service replica
    pause/resume --> <p>.control (fanout) --> one auto-delete queue per processor

Work queues are quorum queues: replicated, and ``x-delivery-limit`` dead-letters a
message that keeps killing its consumer. Delays live in the broker, never in a sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection, Exchange, Queue, binding

from glowworm.settings import Settings
from glowworm.sizes import JobType

# Routing keys on the jobs exchange.
INGEST_KEY = "ingest"
URGENT_KEY = "urgent"
# Deliveries of one message before RabbitMQ dead-letters it (a message that crashes workers).
DELIVERY_LIMIT = 10
# Retry delay levels; a message waiting for its N-th retry sits in delay queue N.
DELAY_LEVELS = 3


def routing_key(job: JobType) -> str:
    """The jobs-exchange routing key of a job type."""
    return job.value


@dataclass(frozen=True)
class Topology:
    """Names and flags of every exchange and queue, derived from the settings."""

    events: Exchange
    jobs: Exchange
    dead: Exchange
    status: Exchange
    control: Exchange
    ingest: Queue
    thumbnails: Queue
    variants: Queue
    urgent: Queue
    dead_letters: Queue
    delays: tuple[tuple[Exchange, Queue], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        p = settings.queue_prefix
        # Declared exactly as MinIO declares it (durable, not auto-delete, not internal),
        # or RabbitMQ refuses one of the two declarations.
        events = Exchange(settings.events_exchange, type="fanout", durable=True, auto_delete=False)
        jobs = Exchange(f"{p}.jobs", type="direct", durable=True)
        dead = Exchange(f"{p}.dead", type="fanout", durable=True)
        status = Exchange(f"{p}.status", type="fanout", durable=True)
        control = Exchange(f"{p}.control", type="fanout", durable=True)

        def work_queue(name: str, *bindings: tuple[Exchange, str]) -> Queue:
            return Queue(
                f"{p}.{name}",
                bindings=[binding(exchange, routing_key=key) for exchange, key in bindings],
                durable=True,
                queue_arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": DELIVERY_LIMIT,
                    "x-dead-letter-exchange": dead.name,
                },
            )

        delays = []
        for level in range(1, DELAY_LEVELS + 1):
            exchange = Exchange(f"{p}.delay.{level}", type="fanout", durable=True)
            # No consumer: messages wait out their per-message expiration, then the broker
            # dead-letters them to the jobs exchange under their original routing key.
            queue = Queue(
                f"{p}.delay.{level}",
                exchange=exchange,
                durable=True,
                queue_arguments={"x-dead-letter-exchange": jobs.name},
            )
            delays.append((exchange, queue))

        return cls(
            events=events,
            jobs=jobs,
            dead=dead,
            status=status,
            control=control,
            ingest=work_queue("ingest", (events, ""), (jobs, INGEST_KEY)),
            thumbnails=work_queue("thumbnails", (jobs, routing_key(JobType.THUMBNAIL))),
            variants=work_queue("variants", (jobs, routing_key(JobType.VARIANT))),
            urgent=work_queue("urgent", (jobs, URGENT_KEY)),
            dead_letters=Queue(f"{p}.dead", exchange=dead, durable=True),
            delays=tuple(delays),
        )

    @property
    def work_queues(self) -> tuple[Queue, ...]:
        """Queues the processor consumes, most urgent first."""
        return (self.urgent, self.ingest, self.thumbnails, self.variants)

    @property
    def all_queues(self) -> tuple[Queue, ...]:
        return (*self.work_queues, self.dead_letters, *(q for _, q in self.delays))

    def delay_exchange(self, retry_number: int) -> Exchange:
        """Where a message waiting for its N-th retry goes (later retries share the last)."""
        level = min(max(retry_number, 1), DELAY_LEVELS)
        return self.delays[level - 1][0]

    def declare(self, connection: Connection) -> None:
        """Declare everything; safe to repeat, and every process does it at start-up."""
        channel = connection.default_channel
        for exchange in self._own_exchanges:
            exchange(channel).declare()
        self.events(channel).declare()
        for queue in self.all_queues:
            queue(channel).declare()

    def delete(self, connection: Connection) -> None:
        """Remove our queues and exchanges (test runs clean up after themselves)."""
        channel = connection.default_channel
        for queue in self.all_queues:
            queue(channel).delete()
        for exchange in self._own_exchanges:
            exchange(channel).delete()

    @property
    def _own_exchanges(self) -> tuple[Exchange, ...]:
        # Not the events exchange: MinIO owns it and every prefix shares it.
        return (self.jobs, self.dead, self.status, self.control, *(e for e, _ in self.delays))

    def listener(self, exchange: Exchange, name: str) -> Queue:
        """A private queue on a fanout exchange, gone when its one consumer disconnects."""
        return Queue(
            f"{exchange.name}.{name}",
            exchange=exchange,
            exclusive=True,
            auto_delete=True,
            durable=False,
        )
