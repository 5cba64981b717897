"""A pipeline of the benchmark's own on the real services, removed when the run ends.

Like the test suite (tests/conftest.py), a run makes its own database, two buckets and a
queue prefix with ``glowworm.provision.provision``, starts real processor processes and
a real uvicorn server with a ``GLOWWORM_*`` environment, and takes it all down after.
Pausing processing is a row in the run's own database, so it touches nobody else.
The service check, the scratch database and bucket removal are shared with the suite
(bench/scratch.py), so a benchmark and a test run set up and clean up the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from kombu import Connection
from sqlalchemy import Engine, bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from bench import scratch
from glowworm.db import make_session_factory
from glowworm.logs import configure_logging
from glowworm.provision import ensure_bucket, provision
from glowworm.storage import make_s3_client
from glowworm.tokens import issue_token
from glowworm.topology import Topology
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
# Set to a directory to keep each run's processor and API logs there.
KEEP_LOGS = "GLOWWORM_BENCH_LOGS"


class ServicesMissing(RuntimeError):
    pass


def check_services(settings: UploadSettings) -> None:
    """Raise ServicesMissing naming what is down; the bench never starts services itself."""
    missing = scratch.unreachable(settings)
    if missing:
        raise ServicesMissing(f"{', '.join(missing)} not reachable; run `make services` first")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Finished:
    """When an image's thumbnails and all its derivatives were committed (epoch seconds)."""

    image_id: int
    status: str
    thumbnails_at: float | None
    complete_at: float | None


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


class Sandbox:
    """Settings, clients and processes of one benchmark run."""

    def __init__(self, base: UploadSettings, run_id: str, workdir: Path) -> None:
        self.run_id = run_id
        self.workdir = workdir
        self.database = f"glowworm_bench_{run_id}"
        self.admin_url = base.database_url
        self.settings = base.model_copy(
            update={
                "database_url": scratch.database_url(self.admin_url, self.database),
                "originals_bucket": f"gwb-{run_id}-originals",
                "derivatives_bucket": f"gwb-{run_id}-derivatives",
                "queue_prefix": f"gwb-{run_id}",
            }
        )
        self.s3: S3Client = make_s3_client(self.settings)
        self.topology = Topology.from_settings(self.settings)
        self.processors: list[subprocess.Popen[bytes]] = []
        self.apis: list[ApiServer] = []
        self.extra_buckets: list[str] = []
        self._engine: Engine | None = None

    # --- life cycle ------------------------------------------------------------------

    @classmethod
    @contextmanager
    def open(cls) -> Iterator[Sandbox]:
        base = UploadSettings()
        check_services(base)
        configure_logging("WARNING")  # set-up's info lines would crowd the figures
        with tempfile.TemporaryDirectory(prefix="glowworm-bench-") as tmp:
            box = cls(base, uuid.uuid4().hex[:8], Path(tmp))
            try:
                box._create()
                yield box
            finally:
                box._remove()
                keep = os.environ.get(KEEP_LOGS)
                if keep:
                    kept = Path(keep) / box.run_id
                    shutil.copytree(tmp, kept, ignore=shutil.ignore_patterns("*.jpg"))
                    print(f"logs of run {box.run_id} kept in {kept}")

    def _create(self) -> None:
        scratch.create_database(self.admin_url, self.database)
        provision(self.settings, self.s3)

    def _remove(self) -> None:
        """Take everything down; each part is tried even if an earlier one failed."""
        self.stop_processes()
        if self._engine is not None:
            self._engine.dispose()
        buckets = [
            self.settings.originals_bucket,
            self.settings.derivatives_bucket,
            *self.extra_buckets,
        ]
        for bucket in buckets:
            try:
                scratch.empty_and_delete(self.s3, bucket)
            except Exception as e:  # report and go on: the rest must still be removed
                print(f"cleanup: bucket {bucket}: {e}", file=sys.stderr)
        try:
            with Connection(self.settings.amqp_url, connect_timeout=10) as connection:
                self.topology.delete(connection)
        except Exception as e:
            print(f"cleanup: queues of {self.settings.queue_prefix}: {e}", file=sys.stderr)
        try:
            scratch.drop_database(self.admin_url, self.database)
        except Exception as e:
            print(f"cleanup: database {self.database}: {e}", file=sys.stderr)

    def bucket(self, suffix: str) -> str:
        """Another bucket of this run (not wired to notifications), removed at the end."""
        name = f"gwb-{self.run_id}-{suffix}"
        ensure_bucket(self.s3, name)
        self.extra_buckets.append(name)
        return name

    # --- processes -------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """A processor's or API server's environment: this run's settings, no reconciler."""
        env = scratch.child_env(self.settings)
        env["GLOWWORM_RECONCILE_INTERVAL_SECONDS"] = "0"
        # One user asks for thousands of upload URLs a second here: limits that high are
        # still counted (the limiter's cost is in the figures), never reached.
        env["GLOWWORM_PRESIGN_RATE_LIMIT"] = "1000000/second"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_processors(self, count: int, timeout: float = 60.0) -> list[int]:
        """Start ``count`` processor processes and wait until each consumes; their pids."""
        started = []
        for _ in range(count):
            n = len(self.processors)
            with open(self.workdir / f"processor-{n}.log", "wb") as log:
                self.processors.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "processor.main"],
                        env=self.env(),
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            started.append(n)
        deadline = time.monotonic() + timeout
        for n in started:
            log_path = self.workdir / f"processor-{n}.log"
            while '"worker.ready"' not in log_path.read_text(errors="replace"):
                if self.processors[n].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"processor {n} not ready:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
        return [self.processors[n].pid for n in started]

    def start_api(
        self,
        workers: int = 1,
        app: str = "upload_service.app:create_app",
        extra_env: dict[str, str] | None = None,
    ) -> ApiServer:
        """A real uvicorn server (run as deployed: infra/Dockerfile's command) on a free port.

        Returns once /healthz has answered a few times (every worker up, most likely).
        """
        port = free_port()
        log = self.workdir / f"api-{len(self.apis)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", app, "--factory"),
                    *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
                ],
                env={**self.env(), **(extra_env or {})},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = ApiServer(f"http://127.0.0.1:{port}", process, log)
        self.apis.append(server)
        deadline = time.monotonic() + 60
        answered = 0
        while answered < 4 * workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API server not ready:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    answered += 1
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return server

    def stop_processes(self) -> None:
        """SIGTERM (a processor finishes the message in hand), then SIGKILL after 30 s."""
        every = [*self.processors, *(api.process for api in self.apis)]
        for proc in every:
            if proc.poll() is None:
                proc.terminate()
        for proc in every:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_api(self, server: ApiServer) -> None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()

    def processor_logs(self, n: int | None = None) -> Iterator[dict[str, Any]]:
        """Every JSON line the processors (or processor ``n``) logged."""
        pattern = "processor-*.log" if n is None else f"processor-{n}.log"
        for path in sorted(self.workdir.glob(pattern)):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    with suppress(json.JSONDecodeError):
                        yield json.loads(line)

    # --- database --------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.settings.database_url, poolclass=NullPool)
        return self._engine

    def token(self, admin: bool = True) -> str:
        with make_session_factory(self.engine).begin() as session:
            return issue_token(session, f"bench-{uuid.uuid4().hex[:8]}", admin=admin)

    def count_done(self, ids: Sequence[int], thumbnails_only: bool = False) -> int:
        """How many of ``ids`` are finished (complete or failed), or have finished thumbnails."""
        column = "thumbnail_status" if thumbnails_only else "processing_status"
        query = text(
            f"SELECT count(*) FROM images WHERE id IN :ids "  # noqa: S608 - a fixed column
            f"AND {column} IN ('complete', 'failed')"
        ).bindparams(bindparam("ids", expanding=True))
        with self.engine.connect() as connection:
            return int(connection.execute(query, {"ids": list(ids)}).scalar_one())

    def wait_done(
        self,
        ids: Sequence[int],
        *,
        thumbnails_only: bool = False,
        timeout: float = 1800.0,
        every: float = 0.5,
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.count_done(ids, thumbnails_only) < len(ids):
            if time.monotonic() > deadline:
                done = self.count_done(ids, thumbnails_only)
                raise TimeoutError(f"{done} of {len(ids)} images finished after {timeout:.0f} s")
            time.sleep(every)

    def finished(self, ids: Sequence[int]) -> dict[int, Finished]:
        """Commit times from Postgres: the thumbnail job's and the image's completion."""
        query = text(
            "SELECT i.id, i.processing_status, j.completed_at, i.processing_completed_at "
            "FROM images i JOIN processing_jobs j ON j.image_id = i.id "
            "AND j.job_type = 'thumbnail' WHERE i.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"ids": list(ids)}).all()

        def epoch(moment: datetime | None) -> float | None:
            return moment.timestamp() if moment else None

        return {row[0]: Finished(row[0], row[1], epoch(row[2]), epoch(row[3])) for row in rows}
