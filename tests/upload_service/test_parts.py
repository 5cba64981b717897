"""How a declared size is cut into parts: as S3 and Uppy's AwsS3 plugin cut it."""

from __future__ import annotations

import pytest

from upload_service.parts import MAX_PARTS, MIN_PART_BYTES, PartPlan

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("total", "sizes"),
    [
        (1, [1]),
        (5 * MiB, [5 * MiB]),
        (5 * MiB + 1, [5 * MiB, 1]),
        (11 * MiB, [5 * MiB, 5 * MiB, MiB]),
        (50 * 1024 * 1024, [5 * MiB] * 10),
    ],
)
def test_parts_are_5_mib_but_the_last(total: int, sizes: list[int]) -> None:
    plan = PartPlan.for_size(total)
    assert [plan.size_of(n) for n in range(1, plan.count + 1)] == sizes
    assert sum(sizes) == total


def test_a_file_too_big_for_10000_parts_of_5_mib_gets_larger_parts() -> None:
    total = 60 * 1000**3  # 60 GB: Uppy's chunk size is then ceil(total / 10,000)
    plan = PartPlan.for_size(total)
    assert plan.part_bytes == 6_000_000 > MIN_PART_BYTES
    assert plan.count == MAX_PARTS
    assert plan.size_of(MAX_PARTS) == 6_000_000


def test_there_is_no_part_beyond_the_declared_size() -> None:
    plan = PartPlan.for_size(11 * MiB)
    for number in (0, 4, 10_000):
        with pytest.raises(ValueError, match="part numbers run from 1 to 3"):
            plan.size_of(number)
    with pytest.raises(ValueError, match="at least one byte"):
        PartPlan.for_size(0)
