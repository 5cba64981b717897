"""Percentiles, the job durations the processors log, and the target lines every bench prints."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

# Lines the report summarises at the end start with this.
TARGET = "TARGET"
# Processor log events that mean a service was down or slow during the run (noise).
OUTAGE_EVENTS = frozenset(
    {"breaker.opened", "message.retry_later", "worker.stopped_consuming", "job.stale"}
)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float], unit: str = "s", scale: float = 1.0) -> str:
    """``p50 … p95 … max …`` of values, scaled (1000 shows seconds as ms)."""
    if not values:
        return "no values"
    v = [x * scale for x in values]
    digits = 0 if scale >= 1000 else 2
    return (
        f"p50 {percentile(v, 50):.{digits}f} {unit}, p95 {percentile(v, 95):.{digits}f} {unit}, "
        f"max {max(v):.{digits}f} {unit} (n={len(v)})"
    )


def target(name: str, met: bool, measured: str, goal: str) -> None:
    """One line the report collects: the target, met or the gap, and what was measured."""
    print(f"{TARGET} {name}: {'met' if met else 'NOT met'}: {measured} (target {goal})")


def job_durations(lines: Iterable[dict[str, Any]]) -> str:
    """Per job type and outcome: count and p50/p95 of ``duration_ms`` of ``job.attempt``."""
    by_kind: dict[tuple[str, str], list[float]] = defaultdict(list)
    skipped = 0
    trouble: dict[str, int] = defaultdict(int)
    for line in lines:
        event = line.get("event")
        if event == "job.attempt":
            by_kind[(line["job_type"], line["outcome"])].append(float(line["duration_ms"]))
        elif event == "ingest.skip_other_bucket":
            skipped += 1
        elif event in OUTAGE_EVENTS or line.get("level") in ("error", "critical"):
            trouble[str(event)] += 1
    parts = [
        f"{job} {outcome} x{len(ms)}: p50 {percentile(ms, 50):.0f} ms, "
        f"p95 {percentile(ms, 95):.0f} ms, mean {statistics.fmean(ms):.0f} ms"
        for (job, outcome), ms in sorted(by_kind.items())
    ]
    if skipped:
        parts.append(f"events of other runs' buckets skipped: {skipped}")
    if trouble:
        parts.append(
            "dependency trouble seen: " + ", ".join(f"{k} x{n}" for k, n in sorted(trouble.items()))
        )
    return "; ".join(parts) if parts else "no job lines logged"
