"""The target lines every benchmark prints, read back for the report's median of runs."""

from __future__ import annotations

import pytest

from bench.figures import Verdict, across_runs, read_target, target


def test_a_target_line_reads_back_as_printed(capsys: pytest.CaptureFixture[str]) -> None:
    target(
        "upload response vs synchronous",
        False,
        "p95 49 ms vs 362 ms = 7.4x lower (one at a time)",
        ">= 10x lower",
        7.39,
        "x lower",
    )
    line = capsys.readouterr().out.strip()

    assert line == (
        "TARGET upload response vs synchronous: NOT met: p95 49 ms vs 362 ms = 7.4x lower "
        "(one at a time) (target >= 10x lower) [7.39 x lower]"
    )
    assert read_target(line) == Verdict(
        name="upload response vs synchronous",
        met=False,
        goal=">= 10x lower",
        figure=7.39,
        unit="x lower",
    )


def test_the_figure_keeps_the_digits_that_mean_something(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for figure in (1004.4, 98.24, 0.8171):
        target("t", True, "measured", "goal", figure, "unit")
    figures = [line.rsplit("[", 1)[1] for line in capsys.readouterr().out.splitlines()]

    assert figures == ["1004 unit]", "98.2 unit]", "0.82 unit]"]


@pytest.mark.parametrize(
    "line",
    [
        "  uploads took 8.9 s (22.5/s; POST+PUT p50 77 ms)",
        "TARGET an old line without its figure: met: 0.22 s (target <= 1 s)",
        "",
    ],
)
def test_other_lines_are_not_targets(line: str) -> None:
    assert read_target(line) is None


def _verdict(name: str, met: bool, figure: float) -> Verdict:
    return Verdict(name=name, met=met, goal=">= 500/min", figure=figure, unit="images/min")


def test_across_runs_gives_each_targets_median_and_every_runs_figure() -> None:
    runs = [
        [_verdict("throughput", False, 212.0), _verdict("rss", True, 2.7)],
        [_verdict("throughput", False, 198.0), _verdict("rss", True, 0.4)],
        [_verdict("throughput", True, 520.0), _verdict("rss", True, 1.1)],
    ]

    assert across_runs(runs) == [
        "throughput: median 212 images/min over 3 of 3 runs (212, 198, 520); met in 1 of 3 "
        "(target >= 500/min)",
        "rss: median 1.10 images/min over 3 of 3 runs (2.70, 0.40, 1.10); met in 3 of 3 "
        "(target >= 500/min)",
    ]


def test_a_target_missing_from_a_run_is_counted_as_not_measured_there() -> None:
    runs = [[_verdict("throughput", False, 212.0)], [], [_verdict("throughput", False, 230.0)]]

    assert across_runs(runs) == [
        "throughput: median 221 images/min over 2 of 3 runs (212, 230); met in 0 of 2 "
        "(target >= 500/min)"
    ]
