"""Every benchmark in turn, with a report: ``python -m bench [--quick] [--runs N] [--report PATH]``.

Each benchmark runs in a process of its own (one's memory or threads cannot colour the
next); everything they print goes to the terminal and, with --report, to the file,
after the machine's facts and before a summary of the targets. With ``--runs N`` the
whole set runs N times over and the summary gives each target's median figure across
the runs beside every run's own: this machine's speed drifts from minute to minute.
Figures, not pass/fail: the exit status is non-zero only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bench.figures import TARGET, Verdict, across_runs, read_target
from bench.machine import facts

# In the order they run: the imaging core first, on a machine not yet busy with services.
BENCHMARKS = ("imaging", "pipeline", "priority", "api", "memory")
ROOT = Path(__file__).resolve().parent.parent


class Tee:
    def __init__(self, report: TextIO | None) -> None:
        self.report = report

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        if self.report:
            self.report.write(text + "\n")
            self.report.flush()


def git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain") else ""
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty}"


def run_one(name: str, quick: bool, out: Tee) -> tuple[int, list[tuple[str, Verdict]]]:
    """Run ``bench.<name>``, passing its lines on; its exit status and its target lines,
    each as printed (less the TARGET word, with the benchmark's name before it) and read."""
    command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
    targets = []
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            out.line(line)
            verdict = read_target(line)
            if verdict is not None:
                shown = f"{name}: {line.removeprefix(TARGET).strip()}"
                targets.append((shown, replace(verdict, name=f"{name}: {verdict.name}")))
    return proc.returncode, targets


def heading(title: str) -> str:
    return f"\n=== {title} " + "=" * max(3, 70 - len(title))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the short version of each")
    parser.add_argument("--report", type=Path, help="also write everything to this file")
    parser.add_argument("--runs", type=int, default=1, help="run the whole set this many times")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated, of {','.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    report = None
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        report = args.report.open("w")
    out = Tee(report)
    started = time.monotonic()
    runs = max(1, args.runs)
    out.line(
        f"GlowWorm benchmarks ({'quick' if args.quick else 'full'}"
        f"{f', {runs} runs' if runs > 1 else ''}), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {git_state()}"
    )
    out.line(facts())
    out.line(
        "Every figure below is from this run; ratios compare measurements made side by side "
        "in it. Each section says how much CPU other work took meanwhile (the machine may be "
        "shared; so may MinIO, RabbitMQ and Postgres, whose CPU then includes other users' "
        "work); no timing is a pass or fail."
    )
    failed: list[str] = []
    # Per run, each target line as shown in the summary, and as read.
    found_by_run: list[list[tuple[str, Verdict]]] = []
    for run in range(1, runs + 1):
        found_by_run.append([])
        for name in chosen:
            title = name if runs == 1 else f"{name} (run {run} of {runs})"
            out.line(heading(title))
            t0 = time.monotonic()
            code, found = run_one(name, args.quick, out)
            found_by_run[-1].extend(found)
            out.line(f"--- {name}: {time.monotonic() - t0:.0f} s, exit status {code}")
            if code:
                failed.append(title)

    for run, found in enumerate(found_by_run, start=1):
        out.line(heading("targets" if runs == 1 else f"targets (run {run} of {runs})"))
        for line, _ in found:
            out.line(line)
    if runs > 1:
        out.line(heading(f"targets: median of {runs} runs"))
        for line in across_runs([[verdict for _, verdict in found] for found in found_by_run]):
            out.line(line)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    out.line(
        f"\nall done in {time.monotonic() - started:.0f} s; load average at the end: {load}"
        + (f"; FAILED to run: {', '.join(failed)}" if failed else "")
    )
    if report:
        report.close()
        print(f"report: {args.report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
