"""`make run`'s demo: the whole pipeline in one process, no external service."""

from __future__ import annotations

import errno
import io
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import CORPUS, ROOT

# The ports the demo tries first when none is asked for (demo/__main__.py).
DEFAULT_PORTS = (8000, 9000)
# Long enough for a cold start on a slow CI machine; a hang fails well before pytest's own.
START_SECONDS = 60
# A start-up failure is reported at once: no network wait stands in its way.
FAIL_SECONDS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def demo_command(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "demo", "--data", str(data), *args]


@contextmanager
def running_demo(data: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The demo as ``make run`` starts it, output in a log; stopped (or killed) after."""
    log = data / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            demo_command(data, *args), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_serving(proc: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """The banner's web URL, S3 endpoint and token, once /healthz answers (or fail with the log)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        text = log.read_text(errors="replace")
        web = re.search(r"GlowWorm demo: (http://\S+)/", text)
        s3 = re.search(r"Embedded S3: (http://\S+)", text)
        token = re.search(r"Your admin token: (\S+)", text)
        if web and s3 and token:
            try:
                if httpx.get(f"{web.group(1)}/healthz").status_code == 200:
                    return {"web": web.group(1), "s3": s3.group(1), "token": token.group(1)}
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    raise AssertionError(f"demo did not start: {log.read_text(errors='replace')[-2000:]}")


@contextmanager
def occupied(port: int) -> Iterator[None]:
    """Something listens on 127.0.0.1:``port`` meanwhile: this socket, or whoever had it."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
        yield


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    port, s3_port = free_port(), free_port()
    data = tmp_path_factory.mktemp("demo")
    with running_demo(data, "--port", str(port), "--s3-port", str(s3_port)) as (proc, log):
        started = wait_serving(proc, log)
        assert started["web"] == f"http://127.0.0.1:{port}"
        yield started["web"], {"Authorization": f"Bearer {started['token']}"}


def test_demo_moves_to_free_ports_when_the_defaults_are_taken(tmp_path: Path) -> None:
    web_default, s3_default = DEFAULT_PORTS
    with occupied(web_default), occupied(s3_default), running_demo(tmp_path) as (proc, log):
        started = wait_serving(proc, log)
        ports = [int(started[url].rsplit(":", 1)[1]) for url in ("web", "s3")]
        assert not set(ports) & set(DEFAULT_PORTS), started
        text = log.read_text()
        assert f"{web_default} is taken, so a free port" in text, text
        assert f"{s3_default} is taken, so a free port" in text, text
        buckets = httpx.get(started["s3"], timeout=10)
        assert buckets.status_code == 200 and "<Name>originals</Name>" in buckets.text
        proc.terminate()
        assert proc.wait(timeout=30) == 0, "SIGTERM stops the demo cleanly"


@pytest.mark.parametrize("flag", ["--port", "--s3-port"])
def test_demo_exits_at_once_when_an_asked_for_port_is_taken(tmp_path: Path, flag: str) -> None:
    port = free_port()
    # The other port free too, so the test holds neither of the defaults.
    ports = {"--port": str(free_port()), "--s3-port": str(free_port()), flag: str(port)}
    with occupied(port):
        started = time.monotonic()
        done = subprocess.run(
            demo_command(tmp_path, *(x for pair in ports.items() for x in pair)),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=FAIL_SECONDS,
        )
    assert time.monotonic() - started < FAIL_SECONDS
    assert done.returncode == 1, done.stderr
    reason = done.stderr.strip().splitlines()[-1]
    assert reason.startswith(f"demo: port {port} ") and "in use" in reason and flag in reason
    assert "GlowWorm demo:" not in done.stdout


def test_demo_exits_at_once_when_the_migration_fails(tmp_path: Path) -> None:
    (tmp_path / "glowworm.db").write_bytes(b"not a database")
    done = subprocess.run(
        demo_command(tmp_path, "--port", str(free_port()), "--s3-port", str(free_port())),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=FAIL_SECONDS,
    )
    assert done.returncode == 1, done.stderr
    reason = done.stderr.strip().splitlines()[-1]
    assert reason.startswith("demo: migrating the SQLite database") and "not a database" in reason


def test_demo_processes_a_browser_style_upload_end_to_end(demo: tuple[str, dict[str, str]]) -> None:
    base, headers = demo
    data = (CORPUS / "orientation-portrait-6.jpg").read_bytes()
    with httpx.Client(base_url=base, timeout=30) as client:
        body = client.post(
            "/api/uploads",
            headers=headers,
            json={"filename": "portrait.jpg", "content_type": "image/jpeg", "size": len(data)},
        ).json()
        put = httpx.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
        assert put.status_code == 200
        deadline = time.monotonic() + 30
        while True:
            status = client.get(
                f"/api/images/{body['id']}/processing-status", headers=headers
            ).json()
            if status["processing_status"] in ("complete", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert status["processing_status"] == "complete", status
        small = client.get(f"/api/images/{body['id']}/file?size=small", headers=headers)
        assert small.status_code == 302
        thumbnail = Image.open(io.BytesIO(httpx.get(small.headers["location"]).content))
        assert thumbnail.size == (100, 150), "portrait, upright, inside 150x150"
