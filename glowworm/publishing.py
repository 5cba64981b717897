"""Putting work on the jobs exchange: job messages and ingest events.

The processor publishes follow-up jobs and the reconciler's findings; the API publishes
an ingest when a client says its upload finished. Both go through here, so a message
looks the same whoever sent it.
"""

from __future__ import annotations

from typing import Any

from kombu import Producer

from glowworm.job_messages import JobMessage
from glowworm.topology import INGEST_KEY, Topology, routing_key

# Publishing retries before the error reaches the caller (a broker outage).
DEFAULT_RETRY: dict[str, Any] = {"max_retries": 3}


class BrokerPublisher:
    def __init__(
        self,
        producer: Producer,
        topology: Topology,
        retry_policy: dict[str, Any] | None = None,
        confirm_timeout: float | None = None,
    ) -> None:
        self.producer = producer
        self.topology = topology
        # kombu's ``Connection.ensure`` options: how hard to try before giving up.
        self.retry_policy = retry_policy or DEFAULT_RETRY
        # Seconds to wait for a publisher confirm (None: as long as it takes).
        self.confirm_timeout = confirm_timeout

    def publish_job(self, job: JobMessage, key: str | None = None) -> None:
        """Queue a job on its own queue (or the one ``key`` names)."""
        self.producer.publish(
            job.to_body(),
            exchange=self.topology.jobs,
            routing_key=key or routing_key(job.job_type),
            serializer="json",
            delivery_mode=2,
            retry=True,
            retry_policy=self.retry_policy,
            confirm_timeout=self.confirm_timeout,
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
            retry_policy=self.retry_policy,
            confirm_timeout=self.confirm_timeout,
        )
