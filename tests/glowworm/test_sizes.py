from __future__ import annotations

from glowworm.sizes import FHD, SMALL, UHD, JobType, sizes_for


def test_display_boxes_turn_with_the_image() -> None:
    assert FHD.box_for(4000, 3000) == (1920, 1080)
    assert FHD.box_for(3000, 4000) == (1080, 1920)
    assert UHD.box_for(5000, 5000) == (2160, 3840)
    assert SMALL.box_for(10, 1) == (150, 150)


def test_thumbnails_and_variants_are_separate_jobs() -> None:
    assert [s.name for s in sizes_for(JobType.THUMBNAIL)] == ["small", "medium", "large"]
    assert [s.name for s in sizes_for(JobType.VARIANT)] == ["fhd", "uhd"]
