"""`make stack` (infra/stack.sh) on the real services: a processor that dies is started
again, and the API keeps answering meanwhile; SIGTERM stops everything and leaves nothing.

The stack runs as its own process group, so a failing test can still kill all of it.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest
from PIL import Image

from glowworm.settings import Settings
from tests.conftest import ROOT, purge_queues

# How many times the processor is SIGKILLed: backoffs of 1, 2 and 4 s.
KILLS = 3
# What stack.sh logs on restarting processor 1: how it ended, and the backoff.
RESTART_LINE = r"stack: processor 1 \(pid \d+\) ended with (\S+) after \d+s; restarting in (\d+)s"
# The processor's argv after the interpreter, as stack.sh starts it.
PROCESSOR_ARGV = ["-m", "processor.main"]
# A job whose processor was killed waits for its lease (GLOWWORM_JOB_LEASE_SECONDS) and
# the retry delays after it; this is the bound on a whole image's processing.
PROCESSING_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _process_table() -> dict[int, tuple[int, int, list[str]]]:
    """Every live process: pid -> (parent pid, process group, argv)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:  # ended while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), [a.decode() for a in argv])
    return table


def _photo(n: int) -> bytes:
    """A JPEG of its own: the same bytes twice would be a duplicate, not a second job."""
    image = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    image.putpixel((n, n), (255, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


class Stack:
    """``bash infra/stack.sh`` on a free port, in a process group of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**env, "GLOWWORM_HOST": "127.0.0.1", "GLOWWORM_PORT": str(self.port)}
        with open(log, "ab") as out:
            # Where this stack's lines begin: the log holds the session's other stacks too.
            self.start = out.tell()
            self.process = subprocess.Popen(
                ["bash", "infra/stack.sh"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        """Everything this stack wrote so far."""
        with open(self.log, "rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")

    def output(self) -> str:
        """The tail of ``text``, for an assertion's message."""
        return self.text()[-4000:]

    def descendants(self) -> dict[int, list[str]]:
        """The processes under stack.sh, pid -> argv: a processor is a grandchild, under
        the supervisor subshell that restarts it."""
        table = _process_table()
        found: dict[int, list[str]] = {}
        parents = {self.process.pid}
        while parents:
            parents = {
                pid for pid, (ppid, _, _) in table.items() if ppid in parents and pid not in found
            }
            found.update((pid, table[pid][2]) for pid in parents)
        return found

    def left_behind(self) -> dict[int, list[str]]:
        """Processes still in the stack's process group."""
        return {
            pid: argv
            for pid, (_, pgid, argv) in _process_table().items()
            if pgid == self.process.pid
        }

    def api(self) -> int:
        """The pid of upload_service's uvicorn, a child of stack.sh."""
        table = _process_table()
        return next(
            pid
            for pid, (ppid, _, argv) in table.items()
            if ppid == self.process.pid and any(a.endswith("uvicorn") for a in argv)
        )

    def processor(self, other_than: int | None = None, timeout: float = 30.0) -> int:
        """The pid of the stack's one processor, once there is one other than ``other_than``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack ended:\n{self.output()}"
            pids = [
                pid
                for pid, argv in self.descendants().items()
                if argv[1:] == PROCESSOR_ARGV and pid != other_than
            ]
            if pids:
                assert len(pids) == 1, f"more than one processor: {pids}"
                return pids[0]
            time.sleep(0.1)
        raise AssertionError(f"no processor after {timeout} s:\n{self.output()}")

    def wait_up(self, timeout: float = 60.0) -> None:
        """Until /healthz answers 200 (or fail with the stack's output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack ended:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the stack's API not up after {timeout} s:\n{self.output()}")

    def terminate(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM to stack.sh alone; its exit status and how long it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill_all(self) -> None:
        """SIGKILL to the whole process group: whatever is left of the stack."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def stack_env(processor_env: dict[str, str], settings: Settings) -> dict[str, str]:
    """The session's settings, a short lease, and the venv this test runs in.

    The queues are purged first: the stack's processor must see this test's work only.
    """
    purge_queues(settings)
    return {
        **processor_env,
        "GLOWWORM_JOB_LEASE_SECONDS": "8",
        "GLOWWORM_RETRY_DELAYS": "[0.5, 1.0, 2.0]",
        "VENV": sys.prefix,
    }


@contextmanager
def running_stack(
    env: dict[str, str], logs: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """A stack whose API answers; killed, all of it, on leaving."""
    log = logs / "stack.log"
    with open(log, "ab") as out:
        out.write(f"--- {request.node.nodeid}\n".encode())
    stack = Stack(env, log)
    try:
        stack.wait_up()
        yield stack
    finally:
        stack.kill_all()


class HealthWatch:
    """Polls /healthz every 0.2 s in a thread while open; what each poll got."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[int | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    self.answers.append(client.get(f"{self.url}/healthz").status_code)
                except httpx.HTTPError as e:
                    self.answers.append(repr(e))
                self._stop.wait(0.2)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


def _upload(client: httpx.Client, headers: dict[str, str], data: bytes, name: str) -> int:
    """What a client does: a presigned PUT from the API, then the bytes to that URL."""
    answer = client.post(
        "/api/uploads",
        headers=headers,
        json={"filename": name, "content_type": "image/jpeg", "size": len(data)},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    put = httpx.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
    assert put.status_code == 200, put.text
    image_id: int = body["id"]
    return image_id


def _status(client: httpx.Client, headers: dict[str, str], image_id: int) -> str:
    answer = client.get(f"/api/images/{image_id}/processing-status", headers=headers)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["processing_status"]
    return status


def _wait_for(
    client: httpx.Client,
    headers: dict[str, str],
    image_id: int,
    done: tuple[str, ...],
    timeout: float,
) -> str:
    """Poll the image's status until it is one of ``done``; the status it ended in."""
    deadline = time.monotonic() + timeout
    while (status := _status(client, headers, image_id)) not in done:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return status


def test_a_killed_processor_is_restarted_and_the_api_keeps_serving(
    stack_env: dict[str, str],
    processor_logs: Path,
    make_token: Any,
    request: pytest.FixtureRequest,
) -> None:
    headers = make_token()
    with (
        running_stack(stack_env, processor_logs, request) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):
        api = stack.api()
        processor = stack.processor()
        images: list[int] = []
        with HealthWatch(stack.url) as health:
            for n in range(KILLS):
                image_id = _upload(client, headers, _photo(n), f"before-kill-{n}.jpg")
                images.append(image_id)
                # Kill it at work where it can: once the image's processing has begun.
                _wait_for(client, headers, image_id, ("processing", "complete"), timeout=15)
                os.kill(processor, signal.SIGKILL)
                processor = stack.processor(other_than=processor)
                images.append(_upload(client, headers, _photo(100 + n), f"after-kill-{n}.jpg"))
            statuses = {
                image_id: _wait_for(
                    client, headers, image_id, ("complete", "failed"), PROCESSING_TIMEOUT
                )
                for image_id in images
            }
        assert statuses == dict.fromkeys(images, "complete"), stack.output()
        assert health.answers, "the health check never ran"
        assert all(answer == 200 for answer in health.answers), health.answers
        assert stack.api() == api, "upload_service is the process it was"
        # Each kill logged with its signal, and the backoff doubling: 1, 2, 4 s.
        restarts = re.findall(RESTART_LINE, stack.text())
        assert restarts == [("SIGKILL", str(2**n)) for n in range(KILLS)], stack.output()

        code, took = stack.terminate()
        assert code == 0, stack.output()
        assert took < 30
        assert stack.left_behind() == {}


def test_sigterm_stops_the_api_and_the_processor_and_restarts_nothing(
    stack_env: dict[str, str], processor_logs: Path, request: pytest.FixtureRequest
) -> None:
    with running_stack(stack_env, processor_logs, request) as stack:
        processor = stack.processor()
        before = len(stack.text())
        code, took = stack.terminate()
        after = stack.text()[before:]
        assert code == 0, stack.output()
        assert took < 30
        assert stack.left_behind() == {}
        assert processor not in _process_table()
        assert "worker.stopped" in after, "the processor stopped cleanly"
        assert "restarting" not in after, after


def test_the_stack_ends_with_the_api(
    stack_env: dict[str, str], processor_logs: Path, request: pytest.FixtureRequest
) -> None:
    """upload_service is the front door: when it dies, the stack stops with its status."""
    with running_stack(stack_env, processor_logs, request) as stack:
        stack.processor()
        os.kill(stack.api(), signal.SIGKILL)
        code = stack.process.wait(timeout=30)
        assert code == 128 + signal.SIGKILL, stack.output()
        assert stack.left_behind() == {}
