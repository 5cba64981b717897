"""The derivative specs: three square thumbnail boxes and two display boxes.

Display boxes are given for a portrait image; a landscape image uses the same box
turned on its side, so a 1080x1920 box becomes 1920x1080.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobType(StrEnum):
    """The two processing jobs; thumbnails always run first."""

    THUMBNAIL = "thumbnail"
    VARIANT = "variant"


@dataclass(frozen=True)
class SizeSpec:
    """A named bounding box that a derivative must fit inside (never upscaled)."""

    name: str
    width: int
    height: int
    job: JobType

    def box_for(self, image_width: int, image_height: int) -> tuple[int, int]:
        """The box turned to match the image: landscape images get a landscape box."""
        short, long = sorted((self.width, self.height))
        if image_width > image_height:
            return long, short
        return short, long


SMALL = SizeSpec("small", 150, 150, JobType.THUMBNAIL)
MEDIUM = SizeSpec("medium", 300, 300, JobType.THUMBNAIL)
LARGE = SizeSpec("large", 600, 600, JobType.THUMBNAIL)
FHD = SizeSpec("fhd", 1080, 1920, JobType.VARIANT)
UHD = SizeSpec("uhd", 2160, 3840, JobType.VARIANT)

# Every derivative, largest last within each job.
ALL_SIZES: tuple[SizeSpec, ...] = (SMALL, MEDIUM, LARGE, FHD, UHD)
THUMBNAIL_SIZES: tuple[SizeSpec, ...] = tuple(s for s in ALL_SIZES if s.job is JobType.THUMBNAIL)
VARIANT_SIZES: tuple[SizeSpec, ...] = tuple(s for s in ALL_SIZES if s.job is JobType.VARIANT)
SIZES_BY_NAME: dict[str, SizeSpec] = {s.name: s for s in ALL_SIZES}


def file_link(image_id: int, size: str) -> str:
    """The API link that redirects to a short-lived URL of one size (or ``original``)."""
    return f"/api/images/{image_id}/file?size={size}"


def sizes_for(job: JobType) -> tuple[SizeSpec, ...]:
    """The derivatives one job produces."""
    return THUMBNAIL_SIZES if job is JobType.THUMBNAIL else VARIANT_SIZES
