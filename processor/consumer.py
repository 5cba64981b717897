"""The kombu consumer: decode, call the handler, acknowledge after the commit.

Each work queue has its own consumer with a prefetch of one. That alone does not keep
thumbnails ahead of variants (docs/ARCHITECTURE.md rule 6): deliveries are handled as they arrive,
so the queues are served in turn and a burst's thumbnails wait behind its variants.
Before a variant job runs, the worker therefore empties the more urgent queues
(``processor.priority``). The consumer stops taking work while a dependency is down
(the circuit breaker) or an operator paused processing.

Publishing goes over a connection of its own (``ConsumerProducerMixin``): waiting for
a publisher confirm on the consuming connection would hand us the next delivery, and
run one handler inside another.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import structlog
from kombu import Connection, Consumer, Message
from kombu.mixins import ConsumerProducerMixin

from glowworm.errors import DependencyUnavailable, TransientError
from glowworm.job_messages import JobMessage, MalformedJobMessage
from glowworm.pipeline_control import ControlCommand, is_paused
from glowworm.publishing import BrokerPublisher
from glowworm.status_events import StatusEvent
from glowworm.topology import INGEST_KEY, URGENT_KEY, Topology, routing_key
from processor.backoff import compute_backoff
from processor.breaker import CircuitBreaker
from processor.context import Context
from processor.delays import BrokerDelays, Delays
from processor.ingest import ingest
from processor.jobs import run_job
from processor.notifications import BucketEvent, MalformedEvent, ObjectRemoved, parse
from processor.outcomes import Finished, RetryLater
from processor.priority import Source, serve_first
from processor.removal import remove

log = structlog.get_logger(__name__)

# Header counting how often a message went back through a delay queue because a
# dependency was down.
RETRIES_HEADER = "x-glowworm-retries"
# After this many such returns the message is dead-lettered for a person to look at.
MAX_REDELIVERIES = 30
# Set on every copy a worker sends back through a delay queue: the copy is the same
# message handed out again, although the broker delivers it as new.
AGAIN_HEADER = "x-glowworm-again"


def handed_out_before(delivery_info: dict[str, Any], headers: dict[str, Any] | None) -> bool:
    """True when this message was handed to a worker before: redelivered by the broker,
    sent back by a worker, or dead-lettered (``x-death``: a person moved it back from the
    dead-letter queue). Its work may be committed and not yet published."""
    headers = headers or {}
    return bool(delivery_info.get("redelivered")) or AGAIN_HEADER in headers or "x-death" in headers


class Worker(ConsumerProducerMixin):  # type: ignore[misc]
    def __init__(
        self,
        connection: Connection,
        topology: Topology,
        ctx: Context,
        probe: Callable[[], None],
        delays: Delays | None = None,
    ) -> None:
        self.connection = connection
        self.topology = topology
        self.ctx = ctx
        self.probe = probe
        self.breaker = CircuitBreaker()
        self.paused = False
        # None: delays live in RabbitMQ (delay queues, published like everything else).
        self._delays = delays
        self._work: list[Consumer] = []
        self._first: tuple[Source, ...] = ()
        self._consuming = True
        self._name = f"{socket.gethostname()}.{os.getpid()}"

    def get_consumers(self, consumer: Callable[..., Consumer], channel: Any) -> list[Consumer]:
        t = self.topology
        urgent = consumer(queues=[t.urgent], on_message=self.on_job, prefetch_count=1)
        ingest = consumer(queues=[t.ingest], on_message=self.on_event, prefetch_count=1)
        thumbnails = consumer(queues=[t.thumbnails], on_message=self.on_job, prefetch_count=1)
        variants = consumer(queues=[t.variants], on_message=self.on_variant, prefetch_count=1)
        self._work = [urgent, ingest, thumbnails, variants]
        # Pulled on the consumers' own (bound) queues, so each ack goes to the channel
        # that delivered the message.
        self._first = (
            Source(urgent.queues[0], self.on_job),
            Source(ingest.queues[0], self.on_event),
            Source(thumbnails.queues[0], self.on_job),
        )
        # kombu starts every consumer it is given, and deliveries can reach the handlers
        # before on_consume_ready: read the switch first, so the handlers already obey it.
        self._consuming = True
        self._read_switch()
        control = t.listener(t.control, self._name)
        return [*self._work, consumer(queues=[control], on_message=self.on_control)]

    def on_consume_ready(
        self, connection: Connection, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        # Again, now that the control queue is bound: a pause committed in between would
        # otherwise be missed (its nudge went out before our queue existed).
        self._read_switch()
        self._apply()
        log.info("worker.ready", queues=[q.name for q in self.topology.work_queues])

    def on_iteration(self) -> None:
        if not self.breaker.probe_due():
            return
        try:
            self.probe()
        except Exception as e:  # any failure means: still down
            self.breaker.probe_failed()
            log.warning("breaker.probe_failed", error=str(e))
            return
        log.info("breaker.closed", open_seconds=round(self.breaker.close(), 1))
        self._apply()

    # --- taking work, or not -------------------------------------------------------------

    def _read_switch(self) -> None:
        try:
            with self.ctx.database() as session:
                self.paused = is_paused(session)
        except DependencyUnavailable as e:
            self.breaker.trip(str(e))

    @property
    def taking_work(self) -> bool:
        """Neither the breaker nor an operator says stop."""
        return not (self.breaker.is_open or self.paused)

    def _apply(self) -> None:
        """Consume from the work queues exactly when taking work."""
        wanted = self.taking_work
        if wanted == self._consuming:
            return
        for work in self._work:
            if wanted:
                work.consume()
            else:
                work.cancel()
        self._consuming = wanted
        log.info(
            "worker.consuming" if wanted else "worker.stopped_consuming",
            breaker=self.breaker.reason,
            paused=self.paused,
        )

    def _trip(self, reason: str) -> None:
        if self.breaker.trip(reason):
            log.warning("breaker.opened", reason=reason)
        self._apply()

    def on_control(self, message: Message) -> None:
        try:
            command = ControlCommand(message.decode().get("command"))
        except Exception:  # not JSON, a refused content type, not a command
            log.warning("control.malformed", body=message.body[:200])
            message.ack()
            return
        self.paused = command is ControlCommand.PAUSE
        log.info("control.received", command=command.value)
        self._apply()
        message.ack()

    # --- handlers ------------------------------------------------------------------------

    def on_event(self, message: Message) -> None:
        """A bucket notification (or our own re-queued copy of one): objects created
        are ingested, objects removed purged."""
        if not self.taking_work:
            self._hold(message, INGEST_KEY)
            return
        try:
            events = parse(message.body)
            again = handed_out_before(message.delivery_info, message.headers)
            ingested = [self._take(event, again=again) for event in events]
        except MalformedEvent as e:
            log.warning("event.malformed", error=str(e))
            message.reject(requeue=False)
            return
        except TransientError as e:
            self._send_back(message, INGEST_KEY, e)
            return
        except Exception:
            self._dead_letter(message, "event.failed")
            return
        # Announced before the jobs go out: another processor may take the thumbnail job
        # at once, and its events must not reach a client before "uploaded".
        self._announce(*(event for outcome in ingested for event in outcome.events))
        for outcome in ingested:
            if outcome.follow_up is not None:
                self.publisher.publish_job(outcome.follow_up)
        message.ack()

    def _take(self, event: BucketEvent, *, again: bool) -> Finished:
        if isinstance(event, ObjectRemoved):
            return remove(event, self.ctx)
        return ingest(event, self.ctx, again=again)

    def on_variant(self, message: Message) -> None:
        """A variant job: first the urgent, ingest and thumbnail work waiting, then it."""
        served = serve_first(self._first, lambda: self.taking_work and not self.should_stop)
        if served:
            log.info("worker.pulled_first", messages=served)
        self.on_job(message)

    def on_job(self, message: Message) -> None:
        try:
            job = JobMessage.from_body(message.body)
        except MalformedJobMessage as e:
            log.warning("job.malformed", error=str(e))
            message.reject(requeue=False)
            return
        came_by = message.delivery_info.get("routing_key")
        key = URGENT_KEY if came_by == URGENT_KEY else routing_key(job.job_type)
        if not self.taking_work:
            self._hold(message, key)
            return
        try:
            outcome = run_job(job, self.ctx)
        except TransientError as e:
            self._send_back(message, key, e)
            return
        except Exception:
            self._dead_letter(message, "job.failed", job_id=job.job_id, image_id=job.image_id)
            return
        if isinstance(outcome, RetryLater):
            self._delay(message.body, key, outcome.delay, message.headers or {})
            self._announce(*outcome.events)
            message.ack()
            return
        assert isinstance(outcome, Finished)
        # Before the follow-up, whose events come after these (see on_event).
        self._announce(*outcome.events)
        if outcome.follow_up is not None:
            self.publisher.publish_job(outcome.follow_up)
        if outcome.dead:
            message.reject(requeue=False)  # kept in the dead-letter queue
        else:
            message.ack()

    # --- publishing ----------------------------------------------------------------------

    @property
    def publisher(self) -> BrokerPublisher:
        return BrokerPublisher(self.producer, self.topology)

    def _announce(self, *events: StatusEvent) -> None:
        """Publish the status events of what was just committed (docs/ARCHITECTURE.md
        rule 10)."""
        for event in events:
            self.producer.publish(
                event.to_body(), exchange=self.topology.status, routing_key="", delivery_mode=1
            )

    def _dead_letter(self, message: Message, event: str, **context: Any) -> None:
        """Handling the message failed in a way nobody planned for: it goes to the
        dead-letter queue for a person, and the worker goes on (docs/ARCHITECTURE.md
        rule 12). Called from an ``except`` block, so the log has the traceback."""
        log.exception(event, body=message.body[:200], **context)
        message.reject(requeue=False)

    def _hold(self, message: Message, key: str) -> None:
        """A message prefetched before we stopped taking work: park it, spend nothing."""
        delay = compute_backoff(1, self.ctx.settings.retry_delays)
        self._delay(message.body, key, delay, message.headers or {})
        message.ack()

    def _send_back(self, message: Message, key: str, error: TransientError) -> None:
        """A dependency failed and nothing was spent: try the message again later."""
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
        if isinstance(error, DependencyUnavailable):
            self._trip(str(error))

    def _delay(self, body: bytes, key: str, delay: float, headers: dict[str, Any]) -> None:
        delays = self._delays or BrokerDelays(
            self.producer, self.topology, self.ctx.settings.retry_delays
        )
        delays.delay(body, key, delay, {**headers, AGAIN_HEADER: 1})
