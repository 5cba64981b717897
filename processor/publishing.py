"""Putting work on the jobs exchange: job messages and ingest events."""

from __future__ import annotations

from kombu import Producer

from glowworm.job_messages import JobMessage
from glowworm.topology import INGEST_KEY, Topology, routing_key

# Publishing retries before the error reaches the caller (a broker outage).
_RETRY = {"max_retries": 3}


class BrokerPublisher:
    def __init__(self, producer: Producer, topology: Topology) -> None:
        self.producer = producer
        self.topology = topology

    def publish_job(self, job: JobMessage, key: str | None = None) -> None:
        """Queue a job on its own queue (or the one ``key`` names)."""
        self.producer.publish(
            job.to_body(),
            exchange=self.topology.jobs,
            routing_key=key or routing_key(job.job_type),
            serializer="json",
            delivery_mode=2,
            retry=True,
            retry_policy=_RETRY,
        )

    def publish_ingest(self, body: str) -> None:
        """Queue an S3-shaped notification for the ingest consumers."""
        self.producer.publish(
            body,
            exchange=self.topology.jobs,
            routing_key=INGEST_KEY,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            retry=True,
            retry_policy=_RETRY,
        )
