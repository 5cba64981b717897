"""A burst of uploads larger than the database pool and the worker-thread pool is
served, not deadlocked, and each answer names its own request's row; slow or oversized
request bodies are refused without holding anyone else up."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import ApiServer

# More requests at once than anyio's 40 worker threads and the database pool together,
# from several users, as a burst comes (one user alone may ask for 50 a second).
BURST = 80
USERS = 8


def test_a_burst_of_presign_requests_all_succeed(
    api_server: Callable[[], ApiServer], make_token: Any
) -> None:
    server = api_server()
    users = [make_token() for _ in range(USERS)]

    def ask(n: int) -> httpx.Response:
        body = {"filename": f"burst-{n}.jpg", "content_type": "image/jpeg", "size": 1234}
        # Well under the pool's 30 s checkout timeout, which is what a deadlock runs into.
        return httpx.post(
            f"{server.url}/api/uploads", json=body, headers=users[n % USERS], timeout=20
        )

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(ask, range(BURST)))
    assert [a.status_code for a in answers] == [201] * BURST
    # The rows were inserted in batches: each answer still names its own request's row.
    by_id: dict[int, dict[str, Any]] = {}
    for headers in users:
        listed = httpx.get(
            f"{server.url}/api/images", params={"limit": BURST}, headers=headers, timeout=10
        ).json()
        assert listed["total"] == BURST // USERS
        by_id |= {image["id"]: image for image in listed["items"]}
    for n, answer in enumerate(answers):
        image = by_id[answer.json()["id"]]
        assert (image["filename"], image["key"]) == (f"burst-{n}.jpg", answer.json()["key"])
        assert image["key"] in answer.json()["upload"]["url"]


class Trickler:
    """A client that sends a request's headers, then its body one byte a second."""

    def __init__(self, port: int, headers: dict[str, str], declared: int = 200) -> None:
        self.started = time.monotonic()
        self.sock = socket.create_connection(("127.0.0.1", port))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.sock.sendall(
            (
                "POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {declared}\r\n{head}\r\n"
            ).encode()
        )
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.done.wait(1.0):
            try:
                self.sock.sendall(b" ")
            except OSError:  # the server ended the request
                return

    def answer(self, by: float) -> tuple[int, float]:
        """The status the server ends the request with, and when, waiting until ``by``."""
        self.sock.settimeout(max(by - time.monotonic(), 0.01))
        try:
            first = self.sock.recv(4096)
        except TimeoutError:
            raise AssertionError("a stalled request was still open 10 s after it began") from None
        finally:
            self.done.set()
            self.sock.close()
        return int(first.split(b" ")[1]), time.monotonic() - self.started


def test_slow_clients_cannot_stall_health_checks_or_signed_in_users(
    api_server: Callable[..., ApiServer], make_token: Any
) -> None:
    pool = 2
    server = api_server({"GLOWWORM_DB_POOL_SIZE": str(pool)})
    headers = make_token()
    # pool + 5 clients with no token, and `pool` more with a good one: before the fix each
    # of them held a database slot while its body trickled in.
    stalled = [Trickler(server.port, {}) for _ in range(pool + 5)]
    stalled += [Trickler(server.port, headers) for _ in range(pool)]
    time.sleep(1.5)  # every one of them is in, a byte or two into its body

    assert httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200
    listed = httpx.get(f"{server.url}/api/images", headers=headers, timeout=1.0)
    assert listed.status_code == 200

    for client in stalled:
        status, after = client.answer(by=client.started + 10)
        assert status == 408, f"a stalled request ended with {status} after {after:.1f} s"


def test_request_bodies_over_64_kb_are_refused(
    api_server: Callable[..., ApiServer], make_token: Any
) -> None:
    server = api_server()
    headers = make_token()
    big = {"filename": "x" * 70_000 + ".jpg", "content_type": "image/jpeg", "size": 1234}
    declared = httpx.post(f"{server.url}/api/uploads", json=big, headers=headers, timeout=10)
    assert declared.status_code == 413
    assert declared.json() == {"detail": "the request body is larger than 65536 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        body = json.dumps(big).encode()
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = httpx.post(
        f"{server.url}/api/uploads",
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert streamed.status_code == 413
    # A body under the cap is served as before.
    small = {"filename": "small.jpg", "content_type": "image/jpeg", "size": 1234}
    ok = httpx.post(f"{server.url}/api/uploads", json=small, headers=headers, timeout=10)
    assert ok.status_code == 201
