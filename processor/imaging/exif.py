"""The few EXIF facts we use: orientation, capture time and camera.

Metadata is advisory: a damaged EXIF block never fails an image, it reads as absent.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import ExifTags, Image

# What a damaged EXIF block makes Pillow raise while parsing it (lazily, tag by tag).
_EXIF_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    ArithmeticError,
    struct.error,
)

# EXIF writes "2018:07:31 14:52:07"; unknown parts are blanks or zeros, which fail parsing.
_EXIF_DATETIME = "%Y:%m:%d %H:%M:%S"

# Camera names are short; anything longer is garbage, cut to fit a database column.
_MAX_TEXT = 100

# Formats whose decoder applies the orientation itself: libheif rotates and mirrors by
# the HEIF irot/imir boxes (and pillow-heif resets the EXIF tag to 1), so turning by EXIF
# as well would rotate twice.
_ORIENTED_BY_DECODER = frozenset({"HEIF"})


@dataclass(frozen=True)
class ExifFacts:
    """What the header's EXIF says, already parsed and checked."""

    # EXIF orientation still to apply to the stored pixels, 1..8.
    orientation: int = 1
    # DateTimeOriginal, else DateTime: the camera's wall-clock time, naive.
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None


def read_exif(image: Image.Image) -> ExifFacts:
    """The EXIF facts of an opened image, from its header only.

    Pillow's PNG ``getexif()`` decodes the whole image to look for an eXIf chunk after the
    pixel data; the PNG spec puts eXIf before it, so only the header is read. Pillow's
    warnings about damaged tags are silenced: the tag then simply reads as absent.
    """
    if image.format == "PNG" and "exif" not in image.info:
        return ExifFacts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            exif = image.getexif()
            return ExifFacts(
                orientation=_orientation(image, exif),
                taken_at=_taken_at(exif),
                camera_make=_text(exif.get(ExifTags.Base.Make)),
                camera_model=_text(exif.get(ExifTags.Base.Model)),
            )
        except _EXIF_ERRORS:
            return ExifFacts()


def _orientation(image: Image.Image, exif: Image.Exif) -> int:
    """Missing or invalid values (0, 9, a list) mean 1."""
    if image.format in _ORIENTED_BY_DECODER:
        return 1
    value = exif.get(ExifTags.Base.Orientation)
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    return 1


def _taken_at(exif: Image.Exif) -> datetime | None:
    """Offset tags (EXIF 2.31) are rare and often wrong, so no time zone is invented."""
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
    except _EXIF_ERRORS:
        details = {}
    for value in (details.get(ExifTags.Base.DateTimeOriginal), exif.get(ExifTags.Base.DateTime)):
        moment = _parse_datetime(value)
        if moment is not None:
            return moment
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 \t\r\n")[:_MAX_TEXT] or None


def _parse_datetime(value: object) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], _EXIF_DATETIME)
    except ValueError:
        return None
