"""The framework's floor, for bench.api only: POST /api/uploads that does no work.

    uvicorn bench.framework_floor:create_app --factory

It parses and validates the same JSON body as the real route (``UploadRequest``) and
answers a fixed body of the same shape, with no token, database or signature: what
FastAPI and uvicorn alone cost per request on this machine, run beside the real route
under the same load, so the real route's figures can be read against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from upload_service.schemas import UploadRequest

# What the real route answers, give or take the values.
_ANSWER: dict[str, Any] = {
    "id": 1,
    "key": "uploads/1/0123456789abcdef0123456789abcdef/photo.jpg",
    "bucket": "originals",
    "expires_at": "2026-01-01T00:00:00Z",
    "upload": {"method": "PUT", "url": "http://127.0.0.1:9000/originals/...", "headers": {}},
    "data": {"id": 1, "processing_status": "pending"},
}


def create_app() -> FastAPI:
    app = FastAPI(title="framework floor (bench only)")

    @app.post("/api/uploads", status_code=201)
    async def create_upload(body: UploadRequest) -> dict[str, Any]:
        return {
            **_ANSWER,
            "upload": {**_ANSWER["upload"], "headers": {"Content-Type": body.content_type}},
        }

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
