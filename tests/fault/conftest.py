"""Fault-test fixtures: a pipeline of its own per test, and processors we may kill.

Each test gets fresh buckets and a queue prefix (the session's database is shared),
and starts its own processor processes with short leases and retry delays, so what
one test breaks cannot leak into another.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu import Connection

from bench import scratch
from bench.scratch import empty_and_delete
from glowworm.provision import provision
from glowworm.storage import make_s3_client
from glowworm.topology import Topology
from tests.conftest import ROOT, Uploader
from upload_service.app import create_app
from upload_service.settings import UploadSettings

SERVICES = ROOT / "infra" / "services.sh"


def services(command: str, name: str) -> float:
    """Stop or start one of the local services; returns how long it took."""
    started = time.monotonic()
    subprocess.run(
        ["bash", str(SERVICES), command, name], check=True, cwd=ROOT, capture_output=True
    )
    return time.monotonic() - started


@pytest.fixture
def own_services() -> None:
    """Tests that stop services need the ones infra/services.sh started (it stops by PID)."""
    services_dir = Path(os.environ.get("GLOWWORM_SERVICES_DIR", ROOT / ".services"))
    if not (services_dir / "run").is_dir():
        message = "fault tests need the services of `make services` (they stop and restart them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class Pipeline:
    """A pipeline of the test's own: settings, an API client, and processor processes."""

    def __init__(self, settings: UploadSettings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.s3 = make_s3_client(settings)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env_overrides: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        env = scratch.child_env(self.settings)
        env["GLOWWORM_RETRY_DELAYS"] = "[1.0, 2.0, 4.0]"
        env["GLOWWORM_JOB_LEASE_SECONDS"] = "8"
        env["GLOWWORM_RECONCILE_INTERVAL_SECONDS"] = "0"
        env.update(self.env_overrides)
        return env

    def start_processor(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        with open(self.logs / f"processor-{n}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "processor.main"],
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def reconcile(self) -> str:
        answer = subprocess.run(
            [sys.executable, "-m", "glowworm.cli", "reconcile"],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return answer.stdout


@pytest.fixture
def pipeline(settings: UploadSettings, tmp_path: Path) -> Iterator[Pipeline]:
    name = f"{settings.queue_prefix}-{uuid.uuid4().hex[:6]}"
    own = settings.model_copy(
        update={
            "originals_bucket": f"{name}-originals",
            "derivatives_bucket": f"{name}-derivatives",
            "queue_prefix": name,
        }
    )
    provision(own, make_s3_client(own), schema=False)
    pipe = Pipeline(own, tmp_path)
    yield pipe
    pipe.stop_all()
    for bucket in (own.originals_bucket, own.derivatives_bucket):
        try:
            empty_and_delete(pipe.s3, bucket)
        except Exception as e:  # a test may have deleted it on purpose
            print(f"cleanup of {bucket}: {e}")
    with Connection(own.amqp_url) as connection:
        Topology.from_settings(own).delete(connection)
    print(f"processor logs: {tmp_path}")


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline.settings)) as test_client:
        yield test_client


@pytest.fixture
def uploader(client: TestClient) -> Iterator[Uploader]:
    with httpx.Client(timeout=30) as http:
        yield Uploader(client, http)


def unique_jpeg(data: bytes, n: int) -> bytes:
    """The same picture with different bytes (trailing data after EOI), so no dedupe."""
    return data + f"glowworm-fault-test-{n}-{uuid.uuid4().hex}".encode()


def wait_until(check: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {check}")
        time.sleep(every)
