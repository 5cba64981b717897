"""The API: the presign route under load, and the upload response against the old sync flow.

    python -m bench.api [--quick] [--seconds N]

1. POST /api/uploads from wrk (a separate process; `bench/presign.lua` sends the body and
   the bearer token) with 50 connections against upload_service under a real uvicorn,
   for each worker count: requests per second, p50, p95, p99; then the same load on a
   route that does no work (bench/framework_floor.py), the floor FastAPI and uvicorn
   set on this machine. wrk's 50 connections send their next request as soon as the
   last is answered: that finds the most the server answers, with a queue always
   waiting. The latency 50 clients see at a given rate comes from vegeta (built with
   `go install`), which sends at a fixed rate whatever the answers do, over at most
   50 connections: p50, p95, p99 at half the target rate and at the target rate.
2. The upload response a person waits for, one upload at a time of the same 12 MP file
   (made unique): the presigned path (POST /api/uploads + PUT to MinIO, with 2
   processors working in the background) against the PRD's old synchronous flow
   (bench/sync_upload.py: the bytes go to the server, which makes every derivative
   before it answers), and the ratio of their p95s.
It never passes or fails on timing.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.client import UploadClient
from bench.figures import percentile, spread, target
from bench.load import measured
from bench.photos import Photos
from bench.sandbox import Sandbox
from bench.sync_upload import BUCKET_VARIABLE

LUA = Path(__file__).parent / "presign.lua"
# What bench/presign.lua sends too.
PRESIGN_BODY = b'{"filename": "photo.jpg", "content_type": "image/jpeg", "size": 2000000}'
# Concurrent clients of the presign load, as the issue asks.
CONNECTIONS = 50
PROCESSORS = 2
# Targets of issue 5.
PRESIGN_P95_MS = 20.0
PRESIGN_RPS = 1000.0
UPLOAD_RESPONSE_RATIO = 10.0
# The open-loop rates (requests per second) vegeta offers the 2-worker server.
OPEN_LOOP_RATES = (int(PRESIGN_RPS) // 2, int(PRESIGN_RPS))
VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
# The do-nothing app the presign rows are read against, and its worker count.
FLOOR_APP = "bench.framework_floor:create_app"
FLOOR_WORKERS = 2


@dataclass(frozen=True)
class LoadResult:
    """One load run, from wrk or vegeta."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, token: str, seconds: float, connections: int) -> LoadResult:
    """One wrk run: 1 thread (the machine has 2 CPUs to share)."""
    done = subprocess.run(
        [
            *("wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s"),
            *("-s", str(LUA), f"{url}/api/uploads"),
        ],
        env={**os.environ, "GLOWWORM_BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("WRK "))
    raw = json.loads(line[4:])
    # No answer at all in the whole run: no latency to speak of, not a zero one.
    scale = 1000 if raw["requests"] else 0
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / scale if scale else math.inf,
        p95_ms=raw["p95_us"] / scale if scale else math.inf,
        p99_ms=raw["p99_us"] / scale if scale else math.inf,
        max_ms=raw["max_us"] / scale if scale else math.inf,
        errors=sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors"))
        + raw["status_errors"]
        + raw["timeouts"],
    )


def vegeta_binary() -> str | None:
    """vegeta on PATH, or where `go install` puts it (make bench installs it)."""
    found = shutil.which("vegeta")
    if found or shutil.which("go") is None:
        return found
    env = {
        name: subprocess.run(["go", "env", name], capture_output=True, text=True).stdout.strip()
        for name in ("GOBIN", "GOPATH")
    }
    candidate = Path(env["GOBIN"] or Path(env["GOPATH"]) / "bin") / "vegeta"
    return str(candidate) if candidate.exists() else None


def vegeta(binary: str, url: str, token: str, rate: int, seconds: float) -> LoadResult:
    """One open-loop run: ``rate`` requests a second for ``seconds``, whatever the answers
    do, over at most CONNECTIONS connections (so a slow server is not hidden by fewer
    requests being sent, as a closed loop would)."""
    target = {
        "method": "POST",
        "url": f"{url}/api/uploads",
        "header": {"Content-Type": ["application/json"], "Authorization": [f"Bearer {token}"]},
        "body": base64.b64encode(PRESIGN_BODY).decode(),
    }
    attack = subprocess.run(
        [
            *(binary, "attack", "-format=json", f"-rate={rate}/s", f"-duration={seconds:.0f}s"),
            *(f"-max-connections={CONNECTIONS}", f"-workers={CONNECTIONS}"),
            *(f"-max-workers={CONNECTIONS}", "-timeout=10s"),
        ],
        input=(json.dumps(target) + "\n").encode(),
        capture_output=True,
        check=True,
    )
    report = subprocess.run(
        [binary, "report", "-type=json"], input=attack.stdout, capture_output=True, check=True
    )
    raw = json.loads(report.stdout)
    latencies = raw["latencies"]
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["duration"] / 1e9,
        p50_ms=latencies["50th"] / 1e6,
        p95_ms=latencies["95th"] / 1e6,
        p99_ms=latencies["99th"] / 1e6,
        max_ms=latencies["max"] / 1e6,
        errors=raw["requests"] - round(raw["success"] * raw["requests"]),
    )


def open_loop(
    box: Sandbox,
    binary: str,
    token: str,
    seconds: float,
    app: str = "upload_service.app:create_app",
) -> dict[int, LoadResult]:
    """The 2-worker server under vegeta's fixed rates, warmed up by wrk first."""
    api = box.start_api(workers=2, app=app)
    results = {}
    try:
        wrk(api.url, token, 3.0, CONNECTIONS)
        for rate in OPEN_LOOP_RATES:
            roots = {"API": [api.process.pid], "bench (vegeta)": [os.getpid()]}
            with measured(roots) as usage:
                result = vegeta(binary, api.url, token, rate, seconds)
            results[rate] = result
            print(
                f"  {rate:7d} {result.per_second:8.0f} {result.p50_ms:8.1f} {result.p95_ms:8.1f} "
                f"{result.p99_ms:8.1f} {result.max_ms:8.1f} {result.errors:7d}"
            )
            print(f"    {usage[0].line()}")
    finally:
        box.stop_api(api)
    return results


def presign_load(
    box: Sandbox,
    token: str,
    workers: int,
    connections: int,
    seconds: float,
    app: str = "upload_service.app:create_app",
) -> LoadResult:
    """A fresh server per row, warmed up (connections, pools) by a 3 s run first."""
    api = box.start_api(workers=workers, app=app)
    try:
        wrk(api.url, token, min(3.0, seconds), connections)
        roots = {"API": [api.process.pid], "bench (wrk)": [os.getpid()]}
        with measured(roots) as usage:
            result = wrk(api.url, token, seconds, connections)
    finally:
        box.stop_api(api)
    print(
        f"  {workers:7d} {connections:11d} {result.per_second:8.0f} "
        f"{result.p50_ms:8.1f} {result.p95_ms:8.1f} {result.p99_ms:8.1f} {result.max_ms:8.1f} "
        f"{result.errors:7d}"
    )
    print(f"    {usage[0].line()}")
    return result


def sync_uploads(url: str, photos: Photos, numbers: Sequence[int]) -> list[float]:
    """Seconds per upload to the synchronous baseline, one at a time."""
    times = []
    with httpx.Client(timeout=120) as http:
        for n in numbers:
            photo = photos.unique(n)
            started = time.monotonic()
            answer = http.post(
                f"{url}/upload",
                params={"filename": photo.name},
                content=photo.data,
                headers={"Content-Type": "image/jpeg"},
            )
            answer.raise_for_status()
            times.append(time.monotonic() - started)
    return times


def run(seconds: float, rows: Sequence[tuple[int, int]], uploads: int) -> None:
    if shutil.which("wrk") is None:
        print("wrk is missing: `apt-get install -y wrk` (make bench installs it)")
        raise SystemExit(1)
    vegeta_at = vegeta_binary()
    if vegeta_at is None:
        print(f"vegeta is missing: `go install {VEGETA_MODULE}@...` (make bench installs it)")
        raise SystemExit(1)
    with tempfile.TemporaryDirectory(prefix="glowworm-bench-photos-") as tmp:
        photos = Photos(Path(tmp), 1)
        with Sandbox.open() as box:
            token = box.token(admin=False)
            print(
                f"POST /api/uploads from wrk (1 thread), {seconds:.0f} s per row after a 3 s "
                "warm-up; uvicorn as deployed (access log on)"
            )
            print(
                f"  {'workers':>7} {'connections':>11} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
                f"{'p99 ms':>8} {'max ms':>8} {'errors':>7}"
            )
            loads = {
                (workers, connections): presign_load(box, token, workers, connections, seconds)
                for workers, connections in rows
            }
            print(
                f"  the framework's floor (bench/framework_floor.py: same body parsed, no token, "
                f"database or signature), {FLOOR_WORKERS} workers:"
            )
            floor = presign_load(box, token, FLOOR_WORKERS, CONNECTIONS, seconds, FLOOR_APP)
            print(
                f"  with {CONNECTIONS} connections always waiting, mean latency = {CONNECTIONS} / "
                f"rate, so p95 <= {PRESIGN_P95_MS:.0f} ms needs more than "
                f"{CONNECTIONS / (PRESIGN_P95_MS / 1000):,.0f} req/s; the floor did "
                f"{floor.per_second:,.0f} req/s, p95 {floor.p95_ms:.1f} ms"
            )
            print(
                f"\nPOST /api/uploads from vegeta at fixed rates (open loop, at most "
                f"{CONNECTIONS} connections), 2 workers, {seconds:.0f} s per rate"
            )
            print(
                f"  {'rate/s':>7} {'sent/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
                f"{'max ms':>8} {'errors':>7}"
            )
            paced = open_loop(box, vegeta_at, token, seconds)
            print("  the framework's floor at the same rates:")
            open_loop(box, vegeta_at, token, seconds, FLOOR_APP)

            print(f"\nupload response, one at a time, the same 12 MP JPEG ({uploads} each)")
            processors = box.start_processors(PROCESSORS)
            api = box.start_api(workers=2)
            client = UploadClient(api.url, token)
            roots = {"processors": processors, "API": [api.process.pid], "bench": [os.getpid()]}
            with measured(roots) as usage:
                made = [client.upload(photos.unique(n)) for n in range(uploads)]
            presigned = [u.seconds for u in made]
            print(
                f"  presigned (POST /api/uploads + PUT), {PROCESSORS} processors at work: "
                f"{spread(presigned, 'ms', 1000)}"
            )
            print(f"    POST alone: {spread([u.post_seconds for u in made], 'ms', 1000)}")
            print(f"    {usage[0].line()}")
            box.wait_done([u.image_id for u in made])
            client.close()
            box.stop_processes()

            sync = box.start_api(
                workers=2,
                app="bench.sync_upload:create_app",
                extra_env={BUCKET_VARIABLE: box.bucket("sync")},
            )
            roots = {"sync server": [sync.process.pid], "bench": [os.getpid()]}
            with measured(roots) as usage:
                baseline = sync_uploads(sync.url, photos, range(uploads, 2 * uploads))
            print(
                f"  synchronous baseline (all derivatives made before the answer): "
                f"{spread(baseline, 'ms', 1000)}"
            )
            print(f"    {usage[0].line()}")

    ratio = percentile(baseline, 95) / percentile(presigned, 95)
    print(f"\nupload response p95, synchronous / presigned: {ratio:.1f}x")
    at_target = {row: load for row, load in loads.items() if row[1] == CONNECTIONS}
    best = max(at_target, key=lambda row: at_target[row].per_second)
    chosen = at_target[best]
    label = f"best of the {CONNECTIONS}-connection rows: {best[0]} uvicorn worker(s)"
    at_rate = paced[int(PRESIGN_RPS)]
    target(
        "presign p95",
        at_rate.p95_ms <= PRESIGN_P95_MS and at_rate.errors == 0,
        f"{at_rate.p95_ms:.1f} ms at {PRESIGN_RPS:.0f} req/s offered by vegeta (open loop, "
        f"{at_rate.errors} errors); closed loop {chosen.p95_ms:.1f} ms ({label})",
        f"<= {PRESIGN_P95_MS:.0f} ms",
        at_rate.p95_ms,
        "ms",
    )
    target(
        "presign throughput",
        chosen.per_second >= PRESIGN_RPS,
        f"{chosen.per_second:.0f} req/s, {chosen.per_second / PRESIGN_RPS:.0%} of the target "
        f"({label})",
        f">= {PRESIGN_RPS:.0f} req/s",
        chosen.per_second,
        "req/s",
    )
    target(
        "upload response vs synchronous",
        ratio >= UPLOAD_RESPONSE_RATIO,
        f"p95 {percentile(presigned, 95) * 1000:.0f} ms vs {percentile(baseline, 95) * 1000:.0f} "
        f"ms = {ratio:.1f}x lower",
        f">= {UPLOAD_RESPONSE_RATIO:.0f}x lower",
        ratio,
        "x lower",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 s of load, 2 workers only")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of load per row")
    args = parser.parse_args(argv)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    # (uvicorn workers, connections); one connection shows the cost of a lone request.
    rows = (
        [(2, CONNECTIONS)]
        if args.quick
        else [(1, CONNECTIONS), (2, CONNECTIONS), (4, CONNECTIONS), (2, 1)]
    )
    run(seconds, rows, uploads=6 if args.quick else 40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
