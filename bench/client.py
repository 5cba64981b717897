"""What a client does: POST /api/uploads for a presigned PUT, PUT the bytes to MinIO, then
POST /api/uploads/{id}/complete so processing starts without waiting for MinIO's event."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from bench.photos import Photo


@dataclass(frozen=True)
class Upload:
    image_id: int
    key: str
    # Wall clock (epoch seconds, comparable with Postgres timestamps) when the POST went
    # out, when MinIO answered the PUT (latencies count from here), and when the API
    # answered complete (the ingest was on the broker by then).
    started: float
    put_done: float
    queued: float
    # POST /api/uploads and PUT, measured on the monotonic clock.
    post_seconds: float
    put_seconds: float

    @property
    def seconds(self) -> float:
        """The upload response time a person waits for: the presign plus the PUT."""
        return self.post_seconds + self.put_seconds


class UploadClient:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=32))

    def upload(self, photo: Photo) -> Upload:
        started = time.time()
        t0 = time.monotonic()
        answer = self.http.post(
            f"{self.api_url}/api/uploads",
            headers=self.headers,
            json={"filename": photo.name, "content_type": "image/jpeg", "size": len(photo.data)},
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST /api/uploads: {answer.status_code} {answer.text}")
        body = answer.json()
        t1 = time.monotonic()
        instructions = body["upload"]
        put = self.http.put(
            instructions["url"], content=photo.data, headers=instructions["headers"]
        )
        if put.status_code != 200:
            raise RuntimeError(f"PUT to MinIO: {put.status_code} {put.text}")
        t2 = time.monotonic()
        put_done = time.time()
        complete = self.http.post(
            f"{self.api_url}/api/uploads/{body['id']}/complete", headers=self.headers
        )
        # 200: MinIO's event was processed first, so nothing needed queueing.
        if complete.status_code not in (200, 202):
            raise RuntimeError(f"POST complete: {complete.status_code} {complete.text}")
        return Upload(body["id"], body["key"], started, put_done, time.time(), t1 - t0, t2 - t1)

    def upload_many(self, photos: Sequence[Photo], threads: int) -> list[Upload]:
        """All of ``photos`` as fast as ``threads`` parallel uploads go (a browser uses ~4)."""
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(self.upload, photos))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.api_url}{path}", headers=self.headers)

    def close(self) -> None:
        self.http.close()
