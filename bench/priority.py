"""Thumbnails before variants: a new upload's thumbnails while a variant backlog waits.

    python -m bench.priority [--quick] [--backlog N]

A processor runs a variant job once the urgent, ingest and thumbnail queues are empty
(processor/priority.py), so how many images wait for their variants depends on how
uploads happen to arrive.
To get exactly "N images waiting for their variants", the run takes the variants queue
off the jobs exchange for a while and binds a holding queue of its own in its place:
N uploads get their thumbnails and their variant jobs pile up in the holding queue;
then the variants queue is bound again and each held job is moved into it once (the
priority test's way: bench/held_jobs.py). Then, while the backlog is worked off,
new uploads are made one at a time, and the time from each PUT's answer to its
thumbnails' commit is compared with the same on idle processors, measured in the same
run. It never passes or fails on timing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kombu import Connection

from bench import latency
from bench.figures import job_durations, percentile, target
from bench.held_jobs import jobs_held
from bench.load import measured
from bench.photos import Photos
from bench.sandbox import Sandbox
from glowworm.sizes import JobType

PROCESSORS = 2
UPLOAD_THREADS = 4
BASE_PHOTOS = 6
# Targets of issue 5: thumbnails p95 on an idle system, and with the backlog.
IDLE_THUMBNAIL_P95_S = 1.0
BACKLOG_THUMBNAIL_P95_S = 2.0


def variants_waiting(box: Sandbox) -> int:
    with Connection(box.settings.amqp_url, connect_timeout=10) as connection:
        queue = box.topology.variants(connection.default_channel)
        return int(queue.queue_declare(passive=True).message_count)


def run(backlog: int, idle_uploads: int, probes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="glowworm-bench-photos-") as tmp:
        photos = Photos(Path(tmp), BASE_PHOTOS)
        with Sandbox.open() as box:
            client, roots = latency.start_pipeline(box, PROCESSORS)
            idle = latency.show_idle(box, client, photos, idle_uploads, roots)

            print(f"\nbuilding the backlog: {backlog} uploads, variant jobs held back")
            numbers = range(idle_uploads, idle_uploads + backlog)
            with jobs_held(box.settings, JobType.VARIANT) as held:
                batch = [photos.unique(n) for n in numbers]
                uploads = client.upload_many(batch, UPLOAD_THREADS)
                box.wait_done([u.image_id for u in uploads], thumbnails_only=True, every=0.5)
                print(f"  all {backlog} thumbnails complete; variant jobs held: {held.count()}")
                held.release()
            depth = variants_waiting(box)
            print(f"  variant jobs waiting in the variants queue: {depth}")

            print(f"\nwith the backlog: {probes} uploads one at a time while it is worked off")
            first = idle_uploads + backlog
            depths = [depth]
            with measured(roots) as usage:
                made, arrived = latency.one_at_a_time(
                    box, client, photos, range(first, first + probes), thumbnails_only=True
                )
                depths.append(variants_waiting(box))
            busy = latency.Latencies.of(made, box.finished([u.image_id for u in made]), arrived)
            print(
                f"  variant jobs waiting: {depths[0]} when the first upload was made, "
                f"{depths[-1]} after the last one's thumbnails"
            )
            busy.show(complete=False)
            print(f"  {usage[0].line()}")
            ids = {u.image_id for u in made}
            lines = [line for line in box.processor_logs() if line.get("image_id") in ids]
            print(f"  job attempts of these uploads: {job_durations(lines)}")
            client.close()

    idle_p95 = percentile(idle.thumbnails, 95)
    busy_p95 = percentile(busy.thumbnails, 95)
    print(
        f"\nthumbnails p95 with the backlog / idle: {busy_p95:.2f} s / {idle_p95:.2f} s "
        f"= {busy_p95 / idle_p95:.2f}; ingest -> thumbnails p95: "
        f"{percentile(busy.ingest_to_thumbnails, 95):.2f} s / "
        f"{percentile(idle.ingest_to_thumbnails, 95):.2f} s"
    )
    target(
        "thumbnails p95 with a variant backlog",
        busy_p95 <= BACKLOG_THUMBNAIL_P95_S,
        f"{busy_p95:.2f} s with {depths[-1]}..{depths[0]} variant jobs waiting "
        f"(idle in the same run: {idle_p95:.2f} s)",
        f"<= {BACKLOG_THUMBNAIL_P95_S:.0f} s with {backlog} waiting",
        busy_p95,
        "s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a backlog of 100, fewer uploads")
    parser.add_argument("--backlog", type=int, default=None, help="images waiting for variants")
    args = parser.parse_args(argv)
    backlog = args.backlog or (100 if args.quick else 500)
    run(backlog, idle_uploads=6 if args.quick else 20, probes=6 if args.quick else 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
