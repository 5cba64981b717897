"""Sending a message back to its queue later: in RabbitMQ, or (demo only) in a timer.

RabbitMQ: the message waits out a per-message expiration in a delay queue with no
consumer, and the broker dead-letters it to the jobs exchange under its original
routing key, so a processor restart loses no wait. Transports without dead-lettering
(kombu's in-memory broker of the demo) use a timer instead, and say so.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from kombu import Connection, Producer

from glowworm.topology import Topology

_RETRY = {"max_retries": 3}


class Delays(Protocol):
    def delay(self, body: bytes, key: str, seconds: float, headers: dict[str, Any]) -> None: ...


class BrokerDelays:
    def __init__(self, producer: Producer, topology: Topology, levels: Sequence[float]) -> None:
        self.producer = producer
        self.topology = topology
        self.levels = levels

    def delay(self, body: bytes, key: str, seconds: float, headers: dict[str, Any]) -> None:
        # The queue whose usual wait is the first at least this long, so a long wait
        # never sits in front of short ones (a queue expires messages from its head).
        level = next(
            (i + 1 for i, base in enumerate(self.levels) if base >= seconds), len(self.levels)
        )
        self.producer.publish(
            body,
            exchange=self.topology.delay_exchange(level),
            routing_key=key,
            expiration=max(seconds, 0.001),
            headers=headers,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            retry=True,
            retry_policy=_RETRY,
        )


class TimerDelays:
    """Waits in this process; a restart forgets them (acceptable only for the demo)."""

    def __init__(self, broker_url: str, topology: Topology) -> None:
        self.broker_url = broker_url
        self.topology = topology

    def delay(self, body: bytes, key: str, seconds: float, headers: dict[str, Any]) -> None:
        timer = threading.Timer(seconds, self._publish, args=(body, key, headers))
        timer.daemon = True
        timer.start()

    def _publish(self, body: bytes, key: str, headers: dict[str, Any]) -> None:
        with Connection(self.broker_url) as connection:
            connection.Producer().publish(
                body,
                exchange=self.topology.jobs,
                routing_key=key,
                headers=headers,
                content_type="application/json",
                content_encoding="utf-8",
            )
