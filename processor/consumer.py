"""The kombu consumer: decode, call the handler, acknowledge after the commit.

Each work queue has its own consumer with a prefetch of one, so a backlog of variant
work never holds back a thumbnail (DESIGN.md rule 6): at most one message of each
queue waits in this process while it works on another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from kombu import Connection, Consumer, Message, Producer
from kombu.mixins import ConsumerMixin

from glowworm.job_messages import JobMessage, MalformedJobMessage
from glowworm.topology import INGEST_KEY, URGENT_KEY, Topology, routing_key
from processor.backoff import compute_backoff
from processor.context import Context
from processor.errors import TransientError
from processor.ingest import ingest
from processor.jobs import Finished, Outcome, RetryLater, run_job
from processor.notifications import MalformedEvent, parse

log = structlog.get_logger(__name__)

# Header counting how often a message went back through a delay queue because a
# dependency was down before any job could be claimed.
RETRIES_HEADER = "x-glowworm-retries"
# After this many such returns the message is dead-lettered for a person to look at.
MAX_REDELIVERIES = 30


class Worker(ConsumerMixin):  # type: ignore[misc]
    def __init__(self, connection: Connection, topology: Topology, ctx: Context) -> None:
        self.connection = connection
        self.topology = topology
        self.ctx = ctx
        self._producer: Producer | None = None

    def get_consumers(self, consumer: Callable[..., Consumer], channel: Any) -> list[Consumer]:
        # Messages can arrive while the later consumers are still starting, so the
        # producer (on the same channel, renewed on every reconnect) must exist first.
        self._producer = Producer(channel, serializer="json")
        t = self.topology
        return [
            consumer(queues=[t.urgent], on_message=self.on_job, prefetch_count=1),
            consumer(queues=[t.ingest], on_message=self.on_event, prefetch_count=1),
            consumer(queues=[t.thumbnails], on_message=self.on_job, prefetch_count=1),
            consumer(queues=[t.variants], on_message=self.on_job, prefetch_count=1),
        ]

    def on_consume_ready(
        self, connection: Connection, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        log.info("worker.ready", queues=[q.name for q in self.topology.work_queues])

    @property
    def producer(self) -> Producer:
        assert self._producer is not None, "publishing before get_consumers ran"
        return self._producer

    def on_event(self, message: Message) -> None:
        """A bucket notification (or our own re-queued copy of one)."""
        try:
            events = parse(message.body)
        except MalformedEvent as e:
            log.warning("event.malformed", error=str(e))
            message.reject(requeue=False)
            return
        try:
            follow_ups = [m for event in events if (m := ingest(event, self.ctx)) is not None]
        except TransientError as e:
            self._send_back(message, INGEST_KEY, e)
            return
        for follow_up in follow_ups:
            self._publish(follow_up, routing_key(follow_up.job_type))
        message.ack()

    def on_job(self, message: Message) -> None:
        try:
            job = JobMessage.from_body(message.body)
        except MalformedJobMessage as e:
            log.warning("job.malformed", error=str(e))
            message.reject(requeue=False)
            return
        came_by = message.delivery_info.get("routing_key")
        key = URGENT_KEY if came_by == URGENT_KEY else routing_key(job.job_type)
        try:
            outcome: Outcome = run_job(job, self.ctx)
        except TransientError as e:
            self._send_back(message, key, e)
            return
        if isinstance(outcome, RetryLater):
            self._delay(message.body, key, outcome.delay, message.headers or {})
            message.ack()
            return
        assert isinstance(outcome, Finished)
        if outcome.follow_up is not None:
            self._publish(outcome.follow_up, routing_key(outcome.follow_up.job_type))
        if outcome.dead:
            message.reject(requeue=False)  # kept in the dead-letter queue
        else:
            message.ack()

    def _publish(self, job: JobMessage, key: str) -> None:
        self.producer.publish(
            job.to_body(),
            exchange=self.topology.jobs,
            routing_key=key,
            delivery_mode=2,
            retry=True,
            retry_policy={"max_retries": 3},
        )

    def _send_back(self, message: Message, key: str, error: TransientError) -> None:
        """A dependency was down before anything was recorded: try the message again later."""
        headers = dict(message.headers or {})
        retries = int(headers.get(RETRIES_HEADER, 0)) + 1
        if retries > MAX_REDELIVERIES:
            log.error("message.gave_up", error=str(error), retries=retries)
            message.reject(requeue=False)
            return
        headers[RETRIES_HEADER] = retries
        delay = compute_backoff(retries, self.ctx.settings.retry_delays)
        log.warning(
            "message.retry_later", error=str(error), retries=retries, delay_s=round(delay, 1)
        )
        self._delay(message.body, key, delay, headers)
        message.ack()

    def _delay(self, body: bytes, key: str, delay: float, headers: dict[str, Any]) -> None:
        level = next(
            (i + 1 for i, base in enumerate(self.ctx.settings.retry_delays) if base >= delay),
            len(self.ctx.settings.retry_delays),
        )
        self.producer.publish(
            body,
            exchange=self.topology.delay_exchange(level),
            routing_key=key,
            expiration=max(delay, 0.001),
            headers=headers,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            retry=True,
            retry_policy={"max_retries": 3},
        )
