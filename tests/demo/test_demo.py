"""`make run`'s demo: the whole pipeline in one process, no external service."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import CORPUS, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    port, s3_port = free_port(), free_port()
    data = tmp_path_factory.mktemp("demo")
    log = data / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo",
                "--port",
                str(port),
                "--s3-port",
                str(s3_port),
                "--data",
                str(data),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        token = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"Your admin token: (\S+)", Path(log).read_text(errors="replace"))
            if found:
                token = found.group(1)
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.3)
        assert token, f"demo did not start: {Path(log).read_text(errors='replace')[-2000:]}"
        yield base, {"Authorization": f"Bearer {token}"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
