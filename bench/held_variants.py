"""A variant backlog made on purpose: variant jobs held back, then released at once.

A processor starts a variant job only when the urgent, ingest and thumbnail queues are
empty (processor/priority.py), so a backlog of images waiting for their variants does not
build up by itself. The priority test (tests/integration/test_priority.py) and the
priority benchmark (bench/priority.py) both need one, of a known size, so both make it
here: the variants queue is taken off the jobs exchange and a holding queue bound in its
place; the held jobs are then put into the variants queue in one go. Like bench/scratch.py
it has no pytest in it, and it lives in bench/ so the benchmark need not import the tests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Message, Producer, Queue

from glowworm.job_messages import JobMessage
from glowworm.settings import Settings
from glowworm.sizes import JobType
from glowworm.topology import Topology, routing_key


class HeldVariants:
    """Variant jobs kept in a holding queue instead of the variants queue.

    Delivery is at least once, so a job's message can come twice (a repeated bucket
    event, a redelivered thumbnail job); the jobs are collected by id as they come.
    Every variant job published meanwhile is held, also one of an image the caller did
    not upload (a late bucket event, a retry of earlier work): ``images`` picks the
    caller's own.
    """

    def __init__(self, channel: Any, topology: Topology, held: Queue) -> None:
        self.channel = channel
        self.topology = topology
        self.held = held
        self.jobs: dict[int, Message] = {}

    def count(self, images: Collection[int] | None = None) -> int:
        """Distinct variant jobs held so far (of ``images`` only, when given)."""
        while (message := self.held.get(no_ack=True)) is not None:
            self.jobs[JobMessage.from_body(message.body).job_id] = message
        return len(self._of(images))

    def _of(self, images: Collection[int] | None) -> list[Message]:
        return [
            message
            for message in self.jobs.values()
            if images is None or JobMessage.from_body(message.body).image_id in images
        ]

    def release(self, images: Collection[int] | None = None) -> int:
        """Put each held job (of ``images`` only, when given) once into the variants queue,
        bound again; how many. The others are dropped.

        Call it while processing is paused to have the whole backlog in place at once.
        The variants queue is bound before the holding queue is unbound, so no job
        published meanwhile goes nowhere; one published in that instant arrives twice,
        and its second claim finds it done.
        """
        key = routing_key(JobType.VARIANT)
        self.topology.variants(self.channel).bind_to(self.topology.jobs, routing_key=key)
        self.held.unbind_from(self.topology.jobs, routing_key=key)
        self.count()  # any that came since the last look
        released = self._of(images)
        producer = Producer(self.channel)
        for message in released:
            producer.publish(
                message.body,
                exchange=self.topology.jobs,
                routing_key=key,
                headers=message.headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
            )
        return len(released)


@contextmanager
def variants_held(settings: Settings) -> Iterator[HeldVariants]:
    """Variant jobs published inside the block wait in a holding queue (see HeldVariants).

    Must be entered after the processors started: each declares the variants queue's
    binding when it starts. The binding is back and the holding queue gone on exit; jobs
    still held then, without a ``release()``, are dropped.
    """
    topology = Topology.from_settings(settings)
    key = routing_key(JobType.VARIANT)
    with Connection(settings.amqp_url, connect_timeout=10) as connection:
        channel = connection.default_channel
        held = Queue(
            f"{settings.queue_prefix}.held-variants",
            exchange=topology.jobs,
            routing_key=key,
            durable=True,
        )(channel)
        held.declare()
        topology.variants(channel).unbind_from(topology.jobs, routing_key=key)
        try:
            yield HeldVariants(channel, topology, held)
        finally:
            topology.variants(channel).bind_to(topology.jobs, routing_key=key)
            held.delete()
