"""Percentiles, the job durations the processors log, and the target lines every bench prints."""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def target(name: str, met: bool, measured: str, goal: str, figure: float, unit: str) -> None:
    """One line the report collects: the target, met or the gap, and what was measured.

    ``figure`` (in ``unit``) is the one number the target is read on; it ends the line
    in brackets, where ``python -m bench --runs N`` finds it to take the median of runs.
    """
    print(
        f"{TARGET} {name}: {'met' if met else 'NOT met'}: {measured} (target {goal}) "
        f"[{number(figure)} {unit}]"
    )


def number(value: float) -> str:
    """A figure with the digits that mean something: 1004, 98.2, 0.82."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


@dataclass(frozen=True)
class Verdict:
    """A target line read back: which target, met or not, and its figure."""

    name: str
    met: bool
    goal: str
    figure: float
    unit: str


_TARGET_LINE = re.compile(
    rf"^{TARGET} (?P<name>[^:]+): (?P<verdict>met|NOT met): .* \(target (?P<goal>.+)\) "
    r"\[(?P<figure>[-+0-9.]+) (?P<unit>[^\]]+)\]$"
)


def read_target(line: str) -> Verdict | None:
    """The verdict a ``target()`` line states; None for any other line."""
    found = _TARGET_LINE.match(line)
    if found is None:
        return None
    return Verdict(
        name=found["name"],
        met=found["verdict"] == "met",
        goal=found["goal"],
        figure=float(found["figure"]),
        unit=found["unit"],
    )


def across_runs(runs: Sequence[Sequence[Verdict]]) -> list[str]:
    """Per target, in the order first seen: the median figure of the runs and each run's.

    A target missing from a run (its benchmark failed there) counts as not measured.
    """
    names = list(dict.fromkeys(verdict.name for run in runs for verdict in run))
    lines = []
    for name in names:
        seen = [verdict for run in runs for verdict in run if verdict.name == name]
        figures = ", ".join(number(verdict.figure) for verdict in seen)
        met = sum(verdict.met for verdict in seen)
        lines.append(
            f"{name}: median {number(statistics.median(v.figure for v in seen))} "
            f"{seen[0].unit} over {len(seen)} of {len(runs)} runs ({figures}); "
            f"met in {met} of {len(seen)} (target {seen[0].goal})"
        )
    return lines


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
