"""``make run``: GlowWorm in one process, with no external service.

The same code as production, with other adapters:

- Postgres -> SQLite (a file under the data folder), migrated by Alembic as usual;
- RabbitMQ -> kombu's in-memory broker (retry waits in timers, not delay queues);
- MinIO -> moto's S3 server on 127.0.0.1; it sends no bucket notifications, so a
  watcher runs the reconciler every second and queues what landed, as it would
  find objects whose events were lost.

Nothing here is durable: queued work lives in memory and is gone when the process
stops (images and statuses stay in the SQLite file, objects in moto are gone). For real
services run ``make services`` + ``make stack``, or docker compose.
"""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import timedelta
from pathlib import Path

import structlog
import uvicorn
from kombu import Connection
from moto.server import ThreadedMotoServer

from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.provision import provision
from glowworm.publishing import BrokerPublisher
from glowworm.storage import make_minio_client, make_s3_client
from glowworm.tokens import issue_token
from glowworm.topology import Topology
from processor.consumer import Worker
from processor.context import Context
from processor.delays import TimerDelays
from processor.imaging.formats import register_openers
from processor.reconciler import reconcile
from processor.settings import ProcessorSettings
from upload_service.app import create_app
from upload_service.settings import UploadSettings

log = structlog.get_logger("demo")

# How often the watcher lists the store for new objects (the demo's "notification").
WATCH_EVERY_SECONDS = 1.0
# In-memory broker shared by every thread of this process.
BROKER_URL = "memory://"


def demo_settings(data: Path, s3_port: int) -> dict[str, object]:
    endpoint = f"http://127.0.0.1:{s3_port}"
    return {
        "database_url": f"sqlite:///{data / 'glowworm.db'}",
        "amqp_url": BROKER_URL,
        "s3_endpoint": endpoint,
        "s3_public_endpoint": endpoint,
        "s3_access_key": "demo",
        "s3_secret_key": "demo-secret",
        "s3_notify_arn": "",
        "reconcile_interval_seconds": 0,
        "retry_delays": (1.0, 3.0, 10.0),
        "job_lease_seconds": 30.0,
    }


def watch(ctx: Context, topology: Topology, stop: threading.Event) -> None:
    """Queue every object that landed: the reconciler, once a second."""
    with Connection(BROKER_URL) as connection:
        publisher = BrokerPublisher(connection.Producer(), topology)
        while not stop.wait(WATCH_EVERY_SECONDS):
            try:
                reconcile(ctx, publisher, stale_after=timedelta(minutes=5))
            except Exception:  # keep watching; the next pass tries again
                log.exception("demo.watch_failed")


def run_processor(ctx: Context, topology: Topology, worker_box: list[Worker]) -> None:
    with Connection(BROKER_URL) as connection:
        worker = Worker(
            connection, topology, ctx, ctx.probe, delays=TimerDelays(BROKER_URL, topology)
        )
        worker_box.append(worker)
        worker.run()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the web app and API")
    parser.add_argument("--s3-port", type=int, default=9000, help="the embedded S3 endpoint")
    parser.add_argument("--data", type=Path, default=Path(".demo"), help="where SQLite lives")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    configure_logging("INFO")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    register_openers()

    s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.s3_port, verbose=False)
    s3_server.start()
    overrides = demo_settings(args.data.resolve(), args.s3_port)
    processor_settings = ProcessorSettings.model_validate(overrides)
    api_settings = UploadSettings.model_validate(overrides)
    s3 = make_s3_client(processor_settings)
    provision(processor_settings, s3)
    topology = Topology.from_settings(processor_settings)

    engine = make_engine(processor_settings.database_url)
    ctx = Context(
        processor_settings, make_session_factory(engine), make_minio_client(processor_settings)
    )
    with ctx.sessions.begin() as session:
        token = issue_token(session, "demo", admin=True)

    stop = threading.Event()
    workers: list[Worker] = []
    threads = [
        threading.Thread(target=run_processor, args=(ctx, topology, workers), name="processor"),
        threading.Thread(target=watch, args=(ctx, topology, stop), name="watcher"),
    ]
    for thread in threads:
        thread.start()
    print(
        f"\nGlowWorm demo: http://127.0.0.1:{args.port}/  (embedded S3 on :{args.s3_port})\n"
        f"Your admin token: {token}\n"
        "Not durable: queued work lives in memory. Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        uvicorn.run(create_app(api_settings), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        stop.set()
        for worker in workers:
            worker.should_stop = True
        for thread in threads:
            thread.join(timeout=10)
        s3_server.stop()
        engine.dispose()


if __name__ == "__main__":
    main()
