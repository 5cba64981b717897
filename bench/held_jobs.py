"""A backlog made on purpose: jobs of one kind held back, then released at once.

A processor starts a variant job only when the urgent, ingest and thumbnail queues are
empty (processor/priority.py), so a backlog of images waiting for their variants does not
build up by itself. The priority test (tests/integration/test_priority.py) and the
priority benchmark (bench/priority.py) both need one, of a known size, so both make it
here: the job kind's queue is taken off the jobs exchange and a holding queue bound in
its place; the held jobs are then put into their queue in one go. The test holds the new
uploads' thumbnail jobs the same way, so that they wait, all of them, when the backlog
does. Like bench/scratch.py it has no pytest in it, and it lives in bench/ so the
benchmark need not import the tests.
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


class HeldJobs:
    """Jobs of one kind kept in a holding queue instead of their own queue.

    Delivery is at least once, so a job's message can come twice (a repeated bucket
    event, a redelivered thumbnail job); the jobs are collected by id as they come.
    Every job of the kind published meanwhile is held, also one of an image the caller did
    not upload (a late bucket event, a retry of earlier work): ``images`` picks the
    caller's own.
    """

    def __init__(self, channel: Any, topology: Topology, job_type: JobType, held: Queue) -> None:
        self.channel = channel
        self.topology = topology
        self.job_type = job_type
        self.held = held
        self.jobs: dict[int, Message] = {}

    def count(self, images: Collection[int] | None = None) -> int:
        """Distinct jobs held so far (of ``images`` only, when given)."""
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
        """Put each held job (of ``images`` only, when given) once into its own queue,
        bound again; how many. The others are dropped.

        Call it while processing is paused to have the whole backlog in place at once.
        The job kind's queue is bound before the holding queue is unbound, so no job
        published meanwhile goes nowhere; one published in that instant arrives twice,
        and its second claim finds it done.
        """
        key = routing_key(self.job_type)
        _queue_of(self.topology, self.job_type)(self.channel).bind_to(
            self.topology.jobs, routing_key=key
        )
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


def _queue_of(topology: Topology, job_type: JobType) -> Queue:
    return {JobType.THUMBNAIL: topology.thumbnails, JobType.VARIANT: topology.variants}[job_type]


@contextmanager
def jobs_held(settings: Settings, job_type: JobType) -> Iterator[HeldJobs]:
    """Jobs of ``job_type`` published inside the block wait in a holding queue (see HeldJobs).

    Must be entered after the processors started: each declares its queues' bindings when
    it starts. The binding is back and the holding queue gone on exit; jobs still held
    then, without a ``release()``, are dropped.
    """
    topology = Topology.from_settings(settings)
    key = routing_key(job_type)
    own = _queue_of(topology, job_type)
    with Connection(settings.amqp_url, connect_timeout=10) as connection:
        channel = connection.default_channel
        held = Queue(
            f"{settings.queue_prefix}.held-{job_type.value}",
            exchange=topology.jobs,
            routing_key=key,
            durable=True,
        )(channel)
        held.declare()
        own(channel).unbind_from(topology.jobs, routing_key=key)
        try:
            yield HeldJobs(channel, topology, job_type, held)
        finally:
            own(channel).bind_to(topology.jobs, routing_key=key)
            held.delete()
