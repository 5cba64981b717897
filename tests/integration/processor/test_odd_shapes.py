"""The whole odd-shape set (tests/odd_shapes.py) through real MinIO, RabbitMQ and Postgres.

What a user must see: every image ends ``complete`` at its size (with the warning of a
file only the second decoder read) or ``failed`` with its reason, and the two
processors that took them are the same processes, still running.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from tests.conftest import Uploader
from tests.odd_shapes import SHAPES

# Every shape is small: the set settles in seconds; this is the ceiling for all of them.
SETTLE_SECONDS = 45.0

# The content type each shape's browser would declare, by the file's leading bytes.
_CONTENT_TYPES = {
    b"\xff\xd8": "image/jpeg",
    b"II": "image/tiff",
    b"MM": "image/tiff",
    b"GI": "image/gif",
    b"RI": "image/webp",
    b"\x89P": "image/png",
}


def test_every_odd_shape_settles_and_no_processor_stops(
    uploader: Uploader, make_token: Any, processors: list[subprocess.Popen[bytes]]
) -> None:
    headers = make_token()
    pids = [proc.pid for proc in processors]
    ids = {}
    for shape in SHAPES:
        data = shape.build()
        content_type = _CONTENT_TYPES[data[:2]]
        ids[shape.name] = uploader.upload(headers, data, f"{shape.name}.bin", content_type)["id"]

    deadline = time.monotonic() + SETTLE_SECONDS
    for shape in SHAPES:
        remaining = max(1.0, deadline - time.monotonic())
        status = uploader.wait(headers, ids[shape.name], timeout=remaining)
        want = shape.outcome
        assert status["processing_status"] == want.status, (shape.name, status)
        if want.status == "failed":
            assert want.reason is not None
            assert status["processing_error"].startswith(want.reason), (shape.name, status)
            kinds = {job["error_kind"] for job in status["jobs"]}
            assert kinds == {want.kind}, (shape.name, status)
            continue
        image = uploader.client.get(f"/api/images/{ids[shape.name]}", headers=headers).json()
        assert (image["width"], image["height"]) == want.size, shape.name
        assert image["exif"]["orientation"] == want.orientation, shape.name
        assert len(image["derivatives"]) == 5, shape.name
        # A warning is kept where the status shows why each attempt ended as it did.
        said = {attempt["error"] for job in status["jobs"] for attempt in job["history"]}
        if want.warning is None:
            assert said == {None}, (shape.name, status)
        else:
            assert len(said) == 1, (shape.name, status)
            assert str(said.pop()).startswith(want.warning), (shape.name, status)

    assert [proc.pid for proc in processors if proc.poll() is None] == pids
