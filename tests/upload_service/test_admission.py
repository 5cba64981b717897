"""A burst of uploads larger than the worker-thread pool is served, not deadlocked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServer

pytestmark = pytest.mark.integration

# More requests at once than anyio's 40 worker threads and the database pool together.
BURST = 80


def test_a_burst_of_presign_requests_all_succeed(
    api_server: Callable[[], ApiServer], make_token: Any
) -> None:
    server = api_server()
    headers = make_token()
    body = {"filename": "burst.jpg", "content_type": "image/jpeg", "size": 1234}

    def ask(_: int) -> int:
        # Well under the pool's 30 s checkout timeout, which is what a deadlock runs into.
        answer = httpx.post(f"{server.url}/api/uploads", json=body, headers=headers, timeout=20)
        return answer.status_code

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        codes = list(pool.map(ask, range(BURST)))
    assert codes == [201] * BURST
    listed = httpx.get(f"{server.url}/api/images", headers=headers, timeout=10).json()
    assert listed["total"] == BURST
