"""Processor memory over a long run: RSS after the first 50 images against the rest.

    python -m bench.memory [--quick] [--images N]

N 12 MP uploads (4 at a time) go through 2 processors; every half second the run reads
each processor's VmRSS and VmHWM (its highest RSS so far) from /proc/<pid>/status, and
how many images are complete. RSS swings by ~80 MB within each variant job (a decoded
12 MP image and its resized copies), so a lone sample says more about the moment than
the trend: the level is each processor's VmHWM when 50 images are complete, compared
with its VmHWM at the end, and the RSS floor (the lowest sample) of each tenth of the
run shows any slow growth. It never passes or fails on timing.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import latency
from bench.client import UploadClient
from bench.figures import job_durations, target
from bench.load import measured
from bench.photos import Photos
from bench.sandbox import Sandbox

PROCESSORS = 2
UPLOAD_THREADS = 4
BASE_PHOTOS = 6
# The level is taken once this many images are complete.
LEVEL_AFTER = 50
# Target of issue 5: RSS stays within this share of the level.
GROWTH_LIMIT = 0.10
# Seconds between samples.
EVERY = 0.5


def status_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Sample:
    seconds: float
    complete: int
    rss: tuple[float, ...]
    peak: tuple[float, ...]


class RssSampler:
    """Samples the processors' RSS and the run's complete count in a thread."""

    def __init__(self, box: Sandbox, pids: Sequence[int]) -> None:
        self.box = box
        self.pids = pids
        self.ids: list[int] = []
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(EVERY):
            self.sample()

    def sample(self) -> None:
        ids = list(self.ids)
        complete = self.box.count_done(ids) if ids else 0
        rss = tuple(status_mb(pid) for pid in self.pids)
        peak = tuple(status_mb(pid, "VmHWM") for pid in self.pids)
        self.samples.append(Sample(time.monotonic() - self._started, complete, rss, peak))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the state once every image is done


def run(images: int) -> None:
    with tempfile.TemporaryDirectory(prefix="glowworm-bench-photos-") as tmp:
        photos = Photos(Path(tmp), BASE_PHOTOS)
        with Sandbox.open() as box:
            pids = box.start_processors(PROCESSORS)
            api = box.start_api(workers=1)
            client = UploadClient(api.url, box.token())
            roots = {"processors": pids, "API": [api.process.pid], "bench": [os.getpid()]}
            started = [status_mb(pid) for pid in pids]
            print(
                f"{images} uploads, {UPLOAD_THREADS} at a time, {PROCESSORS} processors; "
                f"RSS at start: {', '.join(f'{mb:.0f} MB' for mb in started)}"
            )
            with measured(roots) as usage, RssSampler(box, pids) as sampler:
                # Upload in slices so the sampler can count what is complete meanwhile.
                result_uploads = []
                for first in range(0, images, 50):
                    numbers = range(first, min(first + 50, images))
                    made = client.upload_many([photos.unique(n) for n in numbers], UPLOAD_THREADS)
                    result_uploads.extend(made)
                    sampler.ids.extend(u.image_id for u in made)
                box.wait_done([u.image_id for u in result_uploads], every=1.0)
            done = box.finished([u.image_id for u in result_uploads])
            burst = latency.Burst(
                result_uploads, done, latency.Latencies.of(result_uploads, done, {})
            )
            print(
                f"  first PUT -> last complete: {burst.seconds:.0f} s = "
                f"{burst.per_minute:.0f} images/min; "
                f"{len(burst.latencies.not_complete)} not complete"
            )
            print(f"  {usage[0].line()}")
            print(f"  job attempts: {job_durations(box.processor_logs())}")
            client.close()

    samples = sampler.samples
    level_at = next((s for s in samples if s.complete >= LEVEL_AFTER), None)
    if level_at is None:
        print(f"fewer than {LEVEL_AFTER} images complete: no level to compare with")
        return
    final = samples[-1]
    print(f"\nRSS floor (lowest sample) in MB, by tenth of the run after the first {LEVEL_AFTER}:")
    later = [s for s in samples if s.seconds >= level_at.seconds]
    tenths = [later[i * len(later) // 10 : (i + 1) * len(later) // 10] for i in range(10)]
    print(f"  {'complete':>8} " + " ".join(f"{f'processor {n}':>12}" for n in range(PROCESSORS)))
    for part in (t for t in tenths if t):
        floors = [min(s.rss[n] for s in part) for n in range(PROCESSORS)]
        print(f"  {part[-1].complete:8d} " + " ".join(f"{mb:12.0f}" for mb in floors))
    worst = 0.0
    for n in range(PROCESSORS):
        level, peak = level_at.peak[n], final.peak[n]
        growth = peak / level - 1
        worst = max(worst, growth)
        floor_first = min(s.rss[n] for s in tenths[0]) if tenths[0] else math.nan
        floor_last = min(s.rss[n] for s in tenths[-1]) if tenths[-1] else math.nan
        print(
            f"  processor {n}: highest RSS {level:.0f} MB after {LEVEL_AFTER} images, "
            f"{peak:.0f} MB after {final.complete} ({growth:+.1%}); floor {floor_first:.0f} "
            f"-> {floor_last:.0f} MB ({floor_last / floor_first - 1:+.1%})"
        )
    target(
        "processor RSS",
        worst <= GROWTH_LIMIT,
        f"highest RSS grew {worst:+.1%} from image {LEVEL_AFTER} to image {final.complete} "
        "(worse of the 2 processors)",
        f"within {GROWTH_LIMIT:.0%}",
        100 * worst,
        "% growth",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="150 images")
    parser.add_argument("--images", type=int, default=None, help="uploads in the run")
    args = parser.parse_args(argv)
    run(args.images or (150 if args.quick else 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
