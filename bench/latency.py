"""Latency as a person sees it: from the PUT's answer to the derivatives' commit.

"PUT done" is the client's wall clock when MinIO answered the PUT; "complete" is the
processor's commit time in Postgres (``processing_jobs.completed_at`` of the thumbnail
job, ``images.processing_completed_at``); both read the same host clock. The first
ingest at RabbitMQ (the client's ``complete`` call, or MinIO's bucket event if that came
sooner; bench.events) splits the time into the part before the processors and theirs.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.client import Upload, UploadClient
from bench.events import EventWatch
from bench.figures import spread
from bench.load import measured
from bench.photos import Photos
from bench.sandbox import Finished, Sandbox


@dataclass(frozen=True)
class Latencies:
    """Seconds per upload: to thumbnails, to all complete; PUT -> ingest, ingest -> thumbnails.

    ``to_event`` is MinIO's own bucket event, which the ``complete`` call overtakes.
    """

    thumbnails: list[float]
    complete: list[float]
    to_ingest: list[float]
    ingest_to_thumbnails: list[float]
    to_event: list[float]
    not_complete: list[int]

    @classmethod
    def of(
        cls, uploads: Sequence[Upload], done: dict[int, Finished], arrived: dict[str, float]
    ) -> Latencies:
        result = cls([], [], [], [], [], [])
        for upload in uploads:
            finished = done[upload.image_id]
            if finished.status != "complete":
                result.not_complete.append(upload.image_id)
            if finished.thumbnails_at is not None:
                result.thumbnails.append(finished.thumbnails_at - upload.put_done)
            if finished.complete_at is not None:
                result.complete.append(finished.complete_at - upload.put_done)
            event = arrived.get(upload.key)
            if event is not None:
                result.to_event.append(event - upload.put_done)
            ingest = upload.queued if event is None else min(upload.queued, event)
            result.to_ingest.append(ingest - upload.put_done)
            if finished.thumbnails_at is not None:
                result.ingest_to_thumbnails.append(finished.thumbnails_at - ingest)
        return result

    def show(self, complete: bool = True) -> None:
        if complete and self.not_complete:
            print(f"  NOT complete: {len(self.not_complete)} images {self.not_complete[:10]}")
        print(f"  PUT done -> thumbnails complete: {spread(self.thumbnails)}")
        if complete:
            print(f"  PUT done -> all complete:        {spread(self.complete)}")
        print(f"    of which PUT done -> ingest queued:    {spread(self.to_ingest)}")
        print(f"    and ingest -> thumbnails complete:     {spread(self.ingest_to_thumbnails)}")
        print(f"    (MinIO's bucket event at RabbitMQ:     {spread(self.to_event)} after PUT)")


@dataclass(frozen=True)
class Burst:
    uploads: list[Upload]
    done: dict[int, Finished]
    latencies: Latencies

    @property
    def first_put(self) -> float:
        return min(u.started for u in self.uploads)

    @property
    def seconds(self) -> float:
        """From the first PUT to the last `complete`."""
        return max(f.complete_at or 0.0 for f in self.done.values()) - self.first_put

    @property
    def per_minute(self) -> float:
        return len(self.uploads) / self.seconds * 60

    def show(self) -> None:
        upload_s = max(u.put_done for u in self.uploads) - self.first_put
        print(
            f"  uploads took {upload_s:.1f} s ({len(self.uploads) / upload_s:.1f}/s; POST+PUT "
            f"{spread([u.seconds for u in self.uploads], 'ms', 1000)})"
        )
        print(
            f"  first PUT -> last complete: {self.seconds:.1f} s = {self.per_minute:.0f} images/min"
        )
        self.latencies.show()

    def occupancy(self, box: Sandbox, processors: int) -> str:
        """Share of the burst each processor spent inside jobs (``duration_ms`` summed)."""
        ids = {u.image_id for u in self.uploads}
        shares = []
        for n in range(processors):
            busy = sum(
                float(line["duration_ms"])
                for line in box.processor_logs(n)
                if line.get("event") == "job.attempt" and line.get("image_id") in ids
            )
            shares.append(f"{busy / 1000 / self.seconds:.0%}")
        return ", ".join(shares)


def burst(
    box: Sandbox, client: UploadClient, photos: Photos, numbers: Sequence[int], threads: int
) -> Burst:
    """Upload all at once (``threads`` at a time) and wait until every one is finished."""
    batch = [photos.unique(n) for n in numbers]
    with EventWatch(box.settings, f"burst-{numbers[0]}") as watch:
        uploads = client.upload_many(batch, threads)
        box.wait_done([u.image_id for u in uploads], every=0.5)
    done = box.finished([u.image_id for u in uploads])
    return Burst(uploads, done, Latencies.of(uploads, done, dict(watch.arrived)))


def one_at_a_time(
    box: Sandbox,
    client: UploadClient,
    photos: Photos,
    numbers: Sequence[int],
    *,
    thumbnails_only: bool = False,
) -> tuple[list[Upload], dict[str, float]]:
    """Uploads made one at a time, each waited for before the next.

    A random pause between them keeps the uploads from falling into step with a timer
    in the path (MinIO replays its stored events on a 3 s ticker).
    """
    uploads = []
    with EventWatch(box.settings, f"probe-{numbers[0]}") as watch:
        for n in numbers:
            upload = client.upload(photos.unique(n))
            box.wait_done([upload.image_id], thumbnails_only=thumbnails_only, every=0.02)
            uploads.append(upload)
            time.sleep(random.uniform(0.2, 1.5))
        time.sleep(0.5)  # the last events, had they come after the thumbnails
    return uploads, dict(watch.arrived)


def idle(box: Sandbox, client: UploadClient, photos: Photos, numbers: Sequence[int]) -> Latencies:
    """Latencies of uploads that find the processors idle."""
    uploads, arrived = one_at_a_time(box, client, photos, numbers)
    return Latencies.of(uploads, box.finished([u.image_id for u in uploads]), arrived)


def start_pipeline(box: Sandbox, processors: int) -> tuple[UploadClient, dict[str, list[int]]]:
    """Processors and one API server up; a client of it, and the processes to meter."""
    pids = box.start_processors(processors)
    api = box.start_api(workers=1)
    client = UploadClient(api.url, box.token())
    return client, {"processors": pids, "API": [api.process.pid], "bench": [os.getpid()]}


def show_idle(
    box: Sandbox, client: UploadClient, photos: Photos, count: int, roots: dict[str, list[int]]
) -> Latencies:
    """Measure and print ``count`` uploads that find the processors idle, with the CPU use."""
    print(f"idle: {count} uploads one at a time, {len(roots['processors'])} processors waiting")
    with measured(roots) as usage:
        result = idle(box, client, photos, range(count))
    result.show()
    print(f"  {usage[0].line()}")
    return result
