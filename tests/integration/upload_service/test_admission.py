"""A burst of uploads larger than the database pool and the worker-thread pool is
served, not deadlocked, and each answer names its own request's row."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import ApiServer

# More requests at once than anyio's 40 worker threads and the database pool together.
BURST = 80


def test_a_burst_of_presign_requests_all_succeed(
    api_server: Callable[[], ApiServer], make_token: Any
) -> None:
    server = api_server()
    headers = make_token()

    def ask(n: int) -> httpx.Response:
        body = {"filename": f"burst-{n}.jpg", "content_type": "image/jpeg", "size": 1234}
        # Well under the pool's 30 s checkout timeout, which is what a deadlock runs into.
        return httpx.post(f"{server.url}/api/uploads", json=body, headers=headers, timeout=20)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(ask, range(BURST)))
    assert [a.status_code for a in answers] == [201] * BURST
    listed = httpx.get(
        f"{server.url}/api/images", params={"limit": BURST}, headers=headers, timeout=10
    ).json()
    assert listed["total"] == BURST
    # The rows were inserted in batches: each answer still names its own request's row.
    by_id = {image["id"]: image for image in listed["items"]}
    for n, answer in enumerate(answers):
        image = by_id[answer.json()["id"]]
        assert (image["filename"], image["key"]) == (f"burst-{n}.jpg", answer.json()["key"])
        assert image["key"] in answer.json()["upload"]["url"]
