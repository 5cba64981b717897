"""Fitting boxes and turning sizes."""

from __future__ import annotations

import pytest

from processor.imaging.geometry import UPRIGHT, fit, turn


@pytest.mark.parametrize(
    ("size", "box", "fitted"),
    [
        ((3000, 4000), (2160, 3840), (2160, 2880)),
        ((4000, 3000), (1920, 1080), (1440, 1080)),
        ((6000, 4000), (600, 600), (600, 400)),
        ((1800, 1200), (3840, 2160), (1800, 1200)),  # smaller than the box: kept
        ((10000, 1), (150, 150), (150, 1)),  # never below one pixel
        ((2, 1), (150, 150), (2, 1)),
    ],
)
def test_fit_keeps_the_aspect_ratio_and_never_upscales(
    size: tuple[int, int], box: tuple[int, int], fitted: tuple[int, int]
) -> None:
    assert fit(size, box) == fitted


def test_turn_swaps_only_for_the_sideways_orientations() -> None:
    assert [turn((4, 3), n) for n in range(1, 9)] == [(4, 3)] * 4 + [(3, 4)] * 4


def test_every_orientation_but_the_normal_one_has_a_transpose() -> None:
    assert set(UPRIGHT) == set(range(2, 9))
