"""The processor deployable: wire settings, connections and the consumer, then run."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import structlog
from kombu import Connection

from glowworm.logs import configure_logging
from glowworm.topology import Topology
from processor.consumer import Worker
from processor.context import Context
from processor.imaging.formats import register_openers
from processor.reconciler import start_periodic
from processor.settings import ProcessorSettings

log = structlog.get_logger(__name__)


def stop_on_signals(stopping: threading.Event, workers: list[Worker]) -> list[str]:
    """On SIGTERM or SIGINT, finish (and acknowledge) the message in hand, then leave the
    loop. Returns the names of the signals received, for the caller to log.

    The handler only sets flags. It runs in the main thread between two bytecodes, which
    may be inside a log call holding the log's write lock (a plain ``threading.Lock``):
    a handler that logged would wait on that lock forever. For the same reason the main
    thread must not call ``stopping.set()`` while the handlers are in place.
    """
    received: list[str] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stopping.set()
        for worker in workers:
            worker.should_stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return received


def main() -> None:
    # Handlers first: a SIGTERM while connecting must still end in a clean exit.
    stopping = threading.Event()
    workers: list[Worker] = []
    received = stop_on_signals(stopping, workers)
    settings = ProcessorSettings()
    configure_logging(settings.log_level)
    os.nice(settings.processor_nice)
    register_openers()
    topology = Topology.from_settings(settings)
    # Publisher confirms: a follow-up job is on the broker before we ack what caused it.
    connection = Connection(
        settings.amqp_url, heartbeat=30, transport_options={"confirm_publish": True}
    )
    with Context.open(settings) as ctx, connection:
        connection.ensure_connection(max_retries=30)
        topology.declare(connection)
        worker = Worker(connection, topology, ctx, probe=ctx.probe)
        workers.append(worker)  # first: a signal from now on reaches it
        worker.should_stop = stopping.is_set()
        start_periodic(ctx, topology, stopping)
        worker.run()
        # Stopping anyway. A handler run inside the set() below would wait for the lock
        # that set() holds, so no handler from here on.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopping.set()
    log.info("worker.stopped", signals=received)


if __name__ == "__main__":
    main()
