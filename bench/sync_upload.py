"""The PRD's old synchronous upload, for bench.api only: all image work inside the request.

    uvicorn bench.sync_upload:create_app --factory   (GLOWWORM_* and GLOWWORM_BENCH_SYNC_BUCKET)

POST /upload?filename=... with the JPEG as the body: the server stores the original,
renders every derivative (``processor.imaging.render`` with ``ALL_SIZES``), writes them
to MinIO and answers only then. It is kind to the old flow: no database row, no
status, one decode for all five sizes. The bucket it writes to is not wired to
notifications, so nothing else processes these uploads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from glowworm.sizes import ALL_SIZES
from glowworm.storage import make_s3_client
from processor.imaging import register_openers, render
from upload_service.settings import UploadSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Names the bucket the baseline writes originals and derivatives to.
BUCKET_VARIABLE = "GLOWWORM_BENCH_SYNC_BUCKET"


def store_and_render(
    s3: S3Client, bucket: str, quality: int, data: bytes, filename: str
) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=f"originals/{filename}", Body=data, ContentType="image/jpeg")
    renditions = render(data, ALL_SIZES, quality=quality)
    for rendition in renditions:
        s3.put_object(
            Bucket=bucket,
            Key=f"derivatives/{filename}/{rendition.size}.jpg",
            Body=rendition.data,
            ContentType=rendition.content_type,
        )
    return {r.size: [r.width, r.height] for r in renditions}


def create_app() -> FastAPI:
    settings = UploadSettings()
    bucket = os.environ[BUCKET_VARIABLE]
    s3 = make_s3_client(settings)
    register_openers()
    app = FastAPI(title="synchronous upload baseline (bench only)")

    @app.post("/upload", status_code=201)
    async def upload(request: Request, filename: str) -> dict[str, Any]:
        data = await request.body()
        sizes = await run_in_threadpool(
            store_and_render, s3, bucket, settings.jpeg_quality, data, filename
        )
        return {"filename": filename, "sizes": sizes}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
