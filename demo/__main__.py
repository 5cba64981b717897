"""``make run``: GlowWorm in one process, with no external service.

The same code as production, with other adapters:

- Postgres -> SQLite (a file under the data folder), migrated by Alembic as usual;
- RabbitMQ -> kombu's in-memory broker (retry waits in timers, not delay queues);
- MinIO -> moto's S3 server on 127.0.0.1; it sends no bucket notifications, so a
  watcher runs the reconciler every second and queues what landed, as it would
  find objects whose events were lost.

The web app takes port 8000 and S3 port 9000 when they are free, and free ports when
they are not (``make test`` leaves MinIO on 9000); ``--port`` and ``--s3-port`` ask for
one exactly. Any start-up failure, and a background thread dying, ends the process with
a one-line reason on stderr and exit status 1.

Nothing here is durable: queued work lives in memory and is gone when the process
stops (images and statuses stay in the SQLite file, objects in moto are gone). For real
services run ``make services`` + ``make stack``, or docker compose.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import structlog
import uvicorn
from kombu import Connection

from demo.errors import DemoError, one_line
from demo.ports import HOST, listen, port_of
from glowworm.logs import configure_logging
from glowworm.provision import migrate, provision
from glowworm.publishing import BrokerPublisher
from glowworm.storage import make_s3_client
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

try:
    from demo.s3_server import EmbeddedS3
except ModuleNotFoundError as e:  # moto comes with the demo extra, not with the package
    sys.exit(f"demo: {e.name} is not installed: pip install -e '.[demo]' (make run does)")

log = structlog.get_logger("demo")

# How often the watcher lists the store for new objects (the demo's "notification").
WATCH_EVERY_SECONDS = 1.0
# In-memory broker shared by every thread of this process.
BROKER_URL = "memory://"
# Tried first when no port is asked for: the README's URLs.
DEFAULT_WEB_PORT = 8000
DEFAULT_S3_PORT = 9000
# How long the background threads get to finish their message on the way out.
JOIN_SECONDS = 10.0


def demo_settings(database: Path, s3_endpoint: str) -> dict[str, object]:
    return {
        "database_url": f"sqlite:///{database}",
        "amqp_url": BROKER_URL,
        "s3_endpoint": s3_endpoint,
        "s3_public_endpoint": s3_endpoint,
        "s3_access_key": "demo",
        "s3_secret_key": "demo-secret",
        "s3_notify_arn": "",
        "reconcile_interval_seconds": 0,
        "retry_delays": (1.0, 3.0, 10.0),
        "job_lease_seconds": 30.0,
    }


@contextmanager
def step(what: str) -> Iterator[None]:
    """Any failure inside becomes a DemoError naming the step."""
    try:
        yield
    except DemoError:
        raise
    except Exception as e:
        raise DemoError(f"{what} failed: {one_line(e)}") from e


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


class DemoServer(uvicorn.Server):
    """uvicorn in the main thread; it stops when a background thread fails."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner
        self.failures: list[str] = []

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # only now is the printed URL true
            print(self.banner, flush=True)

    def supervise(self, name: str, target: Callable[[], None]) -> threading.Thread:
        """A daemon thread running ``target``; if it raises, the whole demo stops."""

        def body() -> None:
            try:
                target()
            except Exception as e:
                log.exception("demo.thread_failed", thread=name)
                self.failures.append(f"the {name} thread failed: {one_line(e)}")
                self.should_exit = True

        return threading.Thread(target=body, name=name, daemon=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--port",
        type=int,
        help=f"the web app and API (default {DEFAULT_WEB_PORT}, or a free port if it is taken)",
    )
    parser.add_argument(
        "--s3-port",
        type=int,
        help=f"the embedded S3 endpoint (default {DEFAULT_S3_PORT}, or a free port if taken)",
    )
    parser.add_argument("--data", type=Path, default=Path(".demo"), help="where SQLite lives")
    return parser.parse_args()


def taken_note(requested: int | None, default: int, sock: socket.socket) -> str:
    if requested is None and port_of(sock) != default:
        return f"  ({default} is taken, so a free port)"
    return ""


def run(args: argparse.Namespace) -> None:
    """Start everything, serve until Ctrl-C or SIGTERM, stop everything; raises DemoError."""
    # Closed in reverse on every way out, also when a later step fails.
    with ExitStack() as opened:
        web_socket = opened.enter_context(listen("web app", args.port, DEFAULT_WEB_PORT, "--port"))
        s3_socket = listen("embedded S3", args.s3_port, DEFAULT_S3_PORT, "--s3-port")
        s3_note = taken_note(args.s3_port, DEFAULT_S3_PORT, s3_socket)
        with step("starting the embedded S3 server (moto)"):
            s3_server = EmbeddedS3(s3_socket)
            s3_server.start()
        opened.callback(s3_server.stop)

        with step("creating the data folder"):
            args.data.mkdir(parents=True, exist_ok=True)
        database = args.data.resolve() / "glowworm.db"
        overrides = demo_settings(database, s3_server.endpoint)
        processor_settings = ProcessorSettings.model_validate(overrides)
        api_settings = UploadSettings.model_validate(overrides)
        with step(f"migrating the SQLite database {database}"):
            migrate(processor_settings.database_url)
        with step("creating the queues and buckets"):
            provision(processor_settings, make_s3_client(processor_settings), schema=False)
        topology = Topology.from_settings(processor_settings)
        ctx = opened.enter_context(Context.open(processor_settings))
        with step("issuing the admin token"), ctx.sessions.begin() as session:
            token = issue_token(session, "demo", admin=True)

        banner = (
            f"\nGlowWorm demo: http://{HOST}:{port_of(web_socket)}/"
            f"{taken_note(args.port, DEFAULT_WEB_PORT, web_socket)}\n"
            f"Embedded S3: {s3_server.endpoint}{s3_note}\n"
            f"Your admin token: {token}\n"
            "Not durable: queued work lives in memory. Ctrl-C stops everything.\n"
        )
        server = DemoServer(uvicorn.Config(create_app(api_settings), log_level="warning"), banner)
        stop = threading.Event()
        workers: list[Worker] = []
        threads = [
            server.supervise("processor", lambda: run_processor(ctx, topology, workers)),
            server.supervise("watcher", lambda: watch(ctx, topology, stop)),
        ]

        def stop_threads() -> None:
            stop.set()
            for worker in workers:
                worker.should_stop = True
            for thread in threads:
                thread.join(timeout=JOIN_SECONDS)

        opened.callback(stop_threads)
        for thread in threads:
            thread.start()
        try:
            server.run(sockets=[web_socket])
        except SystemExit as e:  # uvicorn's way out when the app's lifespan fails to start
            raise DemoError("the web app did not start (its error is above)") from e
        if server.failures:
            raise DemoError(server.failures[0])
        if not server.started:
            raise DemoError("the web app did not start (its error is above)")


def main() -> None:
    args = parse_args()
    configure_logging("INFO")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    register_openers()
    # uvicorn re-raises the signal it stopped on once it is done: SIGTERM then becomes
    # KeyboardInterrupt like Ctrl-C, so the clean-up below runs for both.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run(args)
    except DemoError as e:
        sys.exit(f"demo: {e}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
