"""Who used the CPUs during a measurement: us, the shared services, or other work.

The machine is shared, so every figure comes with this line. It reads /proc every half
second: the machine's busy time from /proc/stat, and each process's CPU time from
/proc/<pid>/stat, grouped by ancestry (our processes) or by name (the services).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Process names of the shared services, by the group they are counted in.
SERVICES = {
    "minio": "MinIO",
    "beam.smp": "RabbitMQ",
    "erl_child_setup": "RabbitMQ",
    "epmd": "RabbitMQ",
    "postgres": "Postgres",
}
# Seconds between two reads of /proc.
INTERVAL = 0.5
_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds since boot, over all CPUs."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return (total - idle) / _TICKS, total / _TICKS


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, name, CPU seconds used so far)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone between listing and reading
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(rest[1]), name, (int(rest[11]) + int(rest[12])) / _TICKS)
    return found


@dataclass
class Usage:
    """Mean CPUs used per group over ``seconds`` (of ``cpus``)."""

    seconds: float
    cpus: int
    machine: float
    groups: dict[str, float] = field(default_factory=dict)

    @property
    def others(self) -> float:
        return max(0.0, self.machine - sum(self.groups.values()))

    def line(self) -> str:
        ours = ", ".join(
            f"{name} {cpus:.2f}" for name, cpus in self.groups.items() if cpus >= 0.005
        )
        return (
            f"CPU use over {self.seconds:.0f} s (CPUs busy, of {self.cpus}): "
            f"machine {self.machine:.2f} = {ours}, other work {self.others:.2f}"
        )


class LoadMeter:
    """Samples /proc in a thread; ``roots`` maps a group name to the pids it starts from."""

    def __init__(self, roots: Mapping[str, list[int]]) -> None:
        self.roots = roots
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._group_of: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started_at = 0.0
        self._machine_start = (0.0, 0.0)

    def _group(self, pid: int, table: Mapping[int, tuple[int, str, float]]) -> str | None:
        roots = {pid: name for name, pids in self.roots.items() for pid in pids}
        seen = pid
        for _ in range(64):
            if seen in roots:
                return roots[seen]
            if seen not in table or seen <= 1:
                break
            seen = table[seen][0]
        return SERVICES.get(table[pid][1])

    def _sample(self, first: bool) -> None:
        table = _processes()
        for pid, (_, name, cpu) in table.items():
            if pid not in self._group_of:
                group = self._group(pid, table)
                if group is None:
                    continue
                self._group_of[pid] = group
                # A process born during the measurement counts from zero.
                self._first[pid] = cpu if first else 0.0
            self._last[pid] = (name, cpu)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._sample(first=False)

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._machine_start = _machine_busy()
        self._sample(first=True)
        self._thread.start()

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join()
        self._sample(first=False)
        busy, total = _machine_busy()
        cpus = os.cpu_count() or 1
        wall = (total - self._machine_start[1]) / cpus
        usage = Usage(
            seconds=time.monotonic() - self._started_at,
            cpus=cpus,
            machine=(busy - self._machine_start[0]) / wall if wall else 0.0,
        )
        for name in [*self.roots, *dict.fromkeys(SERVICES.values())]:
            usage.groups[name] = 0.0
        for pid, group in self._group_of.items():
            usage.groups[group] += (self._last[pid][1] - self._first[pid]) / max(wall, 1e-9)
        return usage


@contextmanager
def measured(roots: Mapping[str, list[int]]) -> Iterator[list[Usage]]:
    """``with measured({...}) as usage:`` then ``usage[0]`` once the block is left."""
    meter = LoadMeter(roots)
    meter.start()
    result: list[Usage] = []
    try:
        yield result
    finally:
        result.append(meter.stop())
