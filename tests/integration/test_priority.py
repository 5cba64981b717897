"""Thumbnails before variants (docs/ARCHITECTURE.md rule 6), with a real backlog on real processors.

A variant backlog does not build up by itself in a short test, so it is made: the
variants queue is taken off the jobs exchange while the backlog's images get their
thumbnails, and their variant jobs pile up in a holding queue. New images are uploaded
next, with the thumbnails queue held the same way, so their ingest is done and their
thumbnail jobs wait too. With processing paused both are moved into their queues, so
when processing resumes the new thumbnails and the backlog are both waiting, and the
order in which the processors start them is what a user would see.

The new thumbnails wait in their queue rather than behind their ingest events: were they
still to be made from those events, a processor could start variant after variant while
the other one is still ingesting the last new image (no thumbnail is waiting yet, so
none is skipped), and the count would measure how fast an ingest is, not the priority.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PIL import Image

from bench.held_jobs import jobs_held
from glowworm.settings import Settings
from glowworm.sizes import JobType
from tests.conftest import Uploader

# Processors the session's `processors` fixture runs.
PROCESSORS = 2
# Images waiting for their variants when the new ones arrive, and new images. Served in
# turn, a queue each, the new images' thumbnails would wait for about NEW * 2 / 3 variant
# jobs; the backlog is larger, so it is not simply used up before they are done.
BACKLOG = 20
NEW = 12


def _photo(n: int) -> bytes:
    """A JPEG of its own (the same bytes twice would be a duplicate and skip processing)."""
    image = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    image.putpixel((n, n), (255, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _until(
    what: str, check: Callable[[], bool], timeout: float = 120.0, seen: Callable[[], Any] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout} s; {seen()}")
        time.sleep(0.2)


def _queue(uploader: Uploader, admin: dict[str, str], name: str) -> dict[str, Any]:
    view = uploader.client.get("/api/admin/processing-queue", headers=admin).json()
    queue: dict[str, Any] = next(q for q in view["queues"] if q["name"].endswith(f".{name}"))
    return queue


def _status(uploader: Uploader, headers: dict[str, str], image_id: int) -> dict[str, Any]:
    status: dict[str, Any] = uploader.client.get(
        f"/api/images/{image_id}/processing-status", headers=headers
    ).json()
    return status


def _first_start(status: dict[str, Any], job_type: JobType) -> datetime:
    """When the job's first attempt started, as recorded in Postgres."""
    job = next(j for j in status["jobs"] if j["job_type"] == job_type.value)
    return min(datetime.fromisoformat(a["started_at"]) for a in job["history"])


def test_new_thumbnails_start_before_a_variant_backlog_is_worked_off(
    uploader: Uploader, make_token: Any, settings: Settings, processors: Any
) -> None:
    headers, admin = make_token(), make_token(admin=True)
    client = uploader.client
    # Both processors declared their bindings (they do at start), or one of them could
    # bind the variants queue again behind our back.
    _until(
        "both processors consuming",
        lambda: _queue(uploader, admin, "variants")["consumers"] == PROCESSORS,
    )
    try:
        with jobs_held(settings, JobType.VARIANT) as variants:
            backlog = [
                uploader.upload(headers, _photo(n), f"backlog-{n}.jpg")["id"]
                for n in range(BACKLOG)
            ]
            _until(
                "backlog thumbnails complete",
                lambda: all(
                    _status(uploader, headers, i)["thumbnail_status"] == "complete" for i in backlog
                ),
            )
            # A thumbnail job commits before its variant job is published: wait for those too.
            _until(
                f"{BACKLOG} backlog variant jobs held",
                lambda: variants.count(backlog) == BACKLOG,
                seen=lambda: (
                    f"held: {variants.count(backlog)} of {sorted(variants.jobs)}; "
                    f"queues: {_queue(uploader, admin, 'variants')}"
                ),
            )
            with jobs_held(settings, JobType.THUMBNAIL) as thumbnails:
                new = [
                    uploader.upload(headers, _photo(BACKLOG + n), f"new-{n}.jpg")["id"]
                    for n in range(NEW)
                ]
                _until(
                    f"{NEW} new thumbnail jobs held",
                    lambda: thumbnails.count(new) == NEW,
                    seen=lambda: f"held: {thumbnails.count(new)} of {sorted(thumbnails.jobs)}",
                )
                pause = client.post("/api/admin/processing-queue/pause", headers=admin)
                assert pause.status_code == 202
                _until(
                    "processors stopped consuming",
                    lambda: all(
                        _queue(uploader, admin, name)["consumers"] == 0
                        for name in ("urgent", "ingest", "thumbnails", "variants")
                    ),
                )
                assert variants.release(backlog) == BACKLOG
                assert thumbnails.release(new) == NEW
        assert _queue(uploader, admin, "variants")["messages"] == BACKLOG
        assert _queue(uploader, admin, "thumbnails")["messages"] == NEW
    finally:
        client.post("/api/admin/processing-queue/resume", headers=admin)

    for image_id in backlog + new:
        assert uploader.wait(headers, image_id, timeout=180)["processing_status"] == "complete"
    last_thumbnail = max(
        _first_start(_status(uploader, headers, i), JobType.THUMBNAIL) for i in new
    )
    variant_starts = [_first_start(_status(uploader, headers, i), JobType.VARIANT) for i in backlog]
    overtaken_by = [v for v in variant_starts if v < last_thumbnail]
    # A processor that finds the thumbnails queue empty starts the variant in hand, while
    # the last new thumbnails may still be in hand at the other processor, pushed to it
    # but not started yet. So each processor may start one variant before the last new
    # thumbnail; no more.
    assert len(overtaken_by) <= PROCESSORS, (
        f"{len(overtaken_by)} of {BACKLOG} backlog variant jobs started before the last of "
        f"{NEW} new thumbnail jobs (at most {PROCESSORS} may)"
    )
