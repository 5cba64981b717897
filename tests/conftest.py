"""Fixtures shared by the whole suite.

Integration tests talk to the real Postgres, RabbitMQ and MinIO that `make services`
starts. Each test session gets its own database, buckets and queue prefix, so it never
sees a developer's data. Where a service is missing the tests skip on a laptop and
fail under CI=true.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu import Connection, Exchange, Queue

from bench import scratch
from glowworm.db import make_engine, make_session_factory
from glowworm.job_messages import JobMessage
from glowworm.provision import provision
from glowworm.settings import Settings
from glowworm.sizes import JobType
from glowworm.storage import make_s3_client
from glowworm.tokens import issue_token
from glowworm.topology import INGEST_KEY, Topology, routing_key
from processor.notifications import ObjectCreated, parse
from upload_service.app import create_app
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The tests run on loopback services made with infra/services.sh's well-known passwords
# (its env file says so too; this covers a run of the unit tests without it). The
# refusal itself is tested with the setting passed explicitly (tests/glowworm/test_settings.py).
os.environ.setdefault("GLOWWORM_ALLOW_DEFAULT_SECRETS", "true")

CORPUS = Path(__file__).parent / "data" / "corpus"
T = TypeVar("T")
ROOT = Path(__file__).parent.parent


# The folders of the tests that need the real services: the folder decides the marker.
SERVICE_FOLDERS = ("integration", "fault", "browser")


@pytest.hookimpl(tryfirst=True)  # before `-m` reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test talks to the real services exactly when it lives in one of SERVICE_FOLDERS:
    those are marked ``integration`` here, and one marked so anywhere else is an error."""
    misplaced = []
    for item in items:
        if item.path.relative_to(ROOT / "tests").parts[0] in SERVICE_FOLDERS:
            item.add_marker(pytest.mark.integration)
        elif item.get_closest_marker("integration"):
            misplaced.append(item.nodeid)
    if misplaced:
        folders = ", ".join(f"tests/{name}" for name in SERVICE_FOLDERS)
        raise pytest.UsageError(f"integration tests belong in {folders}: {misplaced}")


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings `make services` wrote; the suite fails under CI if a service is down."""
    settings = Settings()
    missing = scratch.unreachable(settings)
    if missing:
        message = f"{', '.join(missing)} not reachable; run `make services` (or `make test`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return settings


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def settings(base_settings: Settings, run_id: str) -> Iterator[UploadSettings]:
    """A database, two buckets and a queue prefix of this test session's own."""
    database = f"glowworm_test_{run_id}"
    scratch.create_database(base_settings.database_url, database)
    test_settings = UploadSettings(
        database_url=scratch.database_url(base_settings.database_url, database),
        originals_bucket=f"gwt-{run_id}-originals",
        derivatives_bucket=f"gwt-{run_id}-derivatives",
        queue_prefix=f"gwt-{run_id}",
    )
    s3 = make_s3_client(test_settings)
    provision(test_settings, s3)
    yield test_settings
    for bucket in (test_settings.originals_bucket, test_settings.derivatives_bucket):
        scratch.empty_and_delete(s3, bucket)
    with Connection(test_settings.amqp_url) as connection:
        Topology.from_settings(test_settings).delete(connection)
    scratch.drop_database(base_settings.database_url, database)


@pytest.fixture(scope="session")
def s3(settings: Settings) -> S3Client:
    return make_s3_client(settings)


@pytest.fixture(scope="session")
def processor_env(settings: Settings) -> dict[str, str]:
    """Environment of a processor working for this session, with short retry delays."""
    env = scratch.child_env(settings)
    env["GLOWWORM_RETRY_DELAYS"] = "[0.5, 1.0, 2.0]"
    env["GLOWWORM_JOB_LEASE_SECONDS"] = "20"
    # No periodic pass: it would queue other tests' uploads behind their backs, and hold
    # the lock the reconciler tests' own passes need (they share this database).
    env["GLOWWORM_RECONCILE_INTERVAL_SECONDS"] = "0"
    return env


def purge_queues(settings: Settings) -> None:
    """Empty every queue of the settings' prefix: work, delay and dead-letter queues."""
    topology = Topology.from_settings(settings)
    with Connection(settings.amqp_url) as connection:
        topology.declare(connection)
        for queue in topology.all_queues:
            queue(connection.default_channel).purge()


@pytest.fixture(scope="session")
def processor_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the processors log: ``$GLOWWORM_TEST_LOG_DIR/processors`` (``make test``:
    where ``infra/services.sh logs`` shows them on a failure), else the session's temp dir.
    """
    logs = Path(os.environ.get("GLOWWORM_TEST_LOG_DIR") or tmp_path_factory.getbasetemp())
    logs /= "processors"
    logs.mkdir(parents=True, exist_ok=True)
    return logs


def start_processor(
    env: dict[str, str], logs: Path, label: str, n: int, module: str = "processor.main"
) -> subprocess.Popen[bytes]:
    """Processor number ``n``: ``python -m module``, its log lines after one naming ``label``."""
    with open(logs / f"processor-{n}.log", "ab") as log:
        log.write(f"--- {label}\n".encode())
        log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", module], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )


@contextmanager
def running_processors(
    env: dict[str, str],
    settings: Settings,
    logs: Path,
    label: str,
    module: str = "processor.main",
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two real processor processes, as deployed, on empty queues; stopped on leaving.

    No test sees another's work: every queue of the session's prefix is purged first,
    while no processor runs. The processors that ran before gave their unacknowledged
    deliveries back when they stopped, and the purge removes those too, with any retry
    waiting in a delay queue. A bucket event MinIO still holds for an earlier upload may
    come later (its 3 s queue_dir timer): a test that counts work counts only its own
    images'. Each run's log lines follow a line with ``label``. The list is the caller's
    to change: a process put in its place is stopped on leaving too.
    """
    purge_queues(settings)
    procs = [start_processor(env, logs, label, n, module) for n in range(2)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processors(
    processor_env: dict[str, str],
    settings: Settings,
    processor_logs: Path,
    request: pytest.FixtureRequest,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two processors for this test alone (see ``running_processors``)."""
    with running_processors(processor_env, settings, processor_logs, request.node.nodeid) as procs:
        yield procs


@pytest.fixture(scope="session")
def app_client(settings: UploadSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def make_token(settings: Settings) -> Iterator[Callable[..., dict[str, str]]]:
    """Factory: a fresh user with a token; returns the Authorization header for it."""
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)

    def make(admin: bool = False) -> dict[str, str]:
        with sessions.begin() as session:
            token = issue_token(session, f"user-{uuid.uuid4().hex[:8]}", admin=admin)
        return {"Authorization": f"Bearer {token}"}

    yield make
    engine.dispose()


class Tap(Generic[T]):
    """Copies of the messages published to one exchange while it is open, by key.

    A queue of the test's own, beside the processors' queues, so taking a copy takes
    nothing from them.
    """

    def __init__(
        self,
        connection: Connection,
        exchange: Exchange,
        routing_key: str,
        read: Callable[[bytes], list[T]],
        key_of: Callable[[T], object],
    ) -> None:
        self.queue = Queue(
            f"{exchange.name}.test-tap.{uuid.uuid4().hex[:8]}",
            exchange=exchange,
            routing_key=routing_key,
            exclusive=True,
            auto_delete=True,
        )(connection.default_channel)
        self.queue.declare()
        self.read = read
        self.key_of = key_of
        self.seen: list[T] = []

    def taken(self, key: object) -> list[T]:
        """The messages for ``key`` that arrived since the last call."""
        while (message := self.queue.get(no_ack=True)) is not None:
            self.seen.extend(self.read(message.body))
        mine = [item for item in self.seen if self.key_of(item) == key]
        self.seen = [item for item in self.seen if self.key_of(item) != key]
        return mine

    def wait_for(self, key: object, timeout: float = 15.0) -> list[T]:
        """The messages for ``key``, once at least one has arrived."""
        deadline = time.monotonic() + timeout
        while not (items := self.taken(key)):
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing for {key!r} after {timeout} s")
            time.sleep(0.1)
        return items


# Notifications (MinIO's, or the ingest messages the API queues), by object key.
EventTap = Tap[ObjectCreated]
# Job messages, by image id.
JobTap = Tap[JobMessage]


def _event_key(event: ObjectCreated) -> str:
    return event.key


def _created(body: bytes) -> list[ObjectCreated]:
    """The object-created records of a notification (removals have taps of their own)."""
    return [event for event in parse(body) if isinstance(event, ObjectCreated)]


@pytest.fixture
def ingest_tap(settings: Settings) -> Iterator[EventTap]:
    """What the API (or the reconciler) queued for ingest; MinIO's events go elsewhere."""
    with Connection(settings.amqp_url) as connection:
        yield Tap(
            connection, Topology.from_settings(settings).jobs, INGEST_KEY, _created, _event_key
        )


@pytest.fixture
def storage_event_tap(settings: Settings) -> Iterator[EventTap]:
    """MinIO's own bucket notifications (every bucket's: filter by key)."""
    with Connection(settings.amqp_url) as connection:
        yield Tap(connection, Topology.from_settings(settings).events, "", _created, _event_key)


@pytest.fixture
def job_taps(settings: Settings) -> Iterator[dict[JobType, JobTap]]:
    """The thumbnail and variant job messages published, by job type, then image id."""
    with Connection(settings.amqp_url) as connection:
        exchange = Topology.from_settings(settings).jobs
        yield {
            job_type: Tap(
                connection,
                exchange,
                routing_key(job_type),
                lambda body: [JobMessage.from_body(body)],
                lambda job: job.image_id,
            )
            for job_type in JobType
        }


class Uploader:
    """Does what a client does: ask the API for a presigned PUT, then PUT the bytes."""

    def __init__(self, client: TestClient, http: httpx.Client) -> None:
        self.client = client
        self.http = http

    def upload(
        self,
        headers: dict[str, str],
        data: bytes,
        filename: str,
        content_type: str = "image/jpeg",
        **extra: Any,
    ) -> dict[str, Any]:
        announced = {"filename": filename, "content_type": content_type, "size": len(data)}
        announced |= extra
        answer = self.client.post("/api/uploads", headers=headers, json=announced)
        # As a well-behaved client does, a burst of uploads waits out the per-user rate
        # limit (tests/integration/upload_service/test_limits.py tests the limit itself).
        for _ in range(3):
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers["retry-after"]))
            answer = self.client.post("/api/uploads", headers=headers, json=announced)
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        put = self.http.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
        assert put.status_code == 200, put.text
        return body

    def wait(self, headers: dict[str, str], image_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """Poll the status route until the image is complete or failed."""
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = self.client.get(
                f"/api/images/{image_id}/processing-status", headers=headers
            ).json()
            if status["processing_status"] in ("complete", "failed"):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"image {image_id} still {status} after {timeout} s")
            time.sleep(0.2)

    def fetch(self, headers: dict[str, str], image_id: int, size: str) -> httpx.Response:
        """Follow /file's redirect the way a browser would."""
        redirect = self.client.get(
            f"/api/images/{image_id}/file",
            params={"size": size},
            headers=headers,
            follow_redirects=False,
        )
        assert redirect.status_code == 302, redirect.text
        return self.http.get(redirect.headers["location"])


@pytest.fixture(scope="session")
def uploader(app_client: TestClient) -> Iterator[Uploader]:
    with httpx.Client(timeout=30) as http:
        yield Uploader(app_client, http)


class ApiServer:
    """upload_service under a real uvicorn (WebSocket, pages), for this test session."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", "upload_service.app:create_app"),
                    *("--factory", "--host", "127.0.0.1", "--port", str(self.port)),
                ],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until it answers and its status relay is consuming (or fail with its log)."""
        self.wait_up(timeout, events=("live",))

    def wait_up(
        self, timeout: float = 30.0, events: tuple[str, ...] = ("live", "connecting")
    ) -> None:
        """Until it answers with its relay in one of ``events`` (or fail with its log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).json().get("events") in events:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"API server not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def api_server(
    processor_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ApiServer]]:
    """Factory: start another replica of the API on a free port; all stop at session end."""
    # Logs: $GLOWWORM_TEST_LOG_DIR/api-servers under make test, as the processors' do.
    logs = Path(os.environ.get("GLOWWORM_TEST_LOG_DIR") or tmp_path_factory.getbasetemp())
    logs /= "api-servers"
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[ApiServer] = []

    def start(env: dict[str, str] | None = None) -> ApiServer:
        """One more replica; ``env`` adds or overrides its settings (GLOWWORM_*)."""
        server = ApiServer({**processor_env, **(env or {})}, logs / f"api-{len(servers)}.log")
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
    print(f"API server logs: {logs}")
