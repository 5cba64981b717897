"""The few EXIF facts we use: orientation, capture time and camera.

Metadata is advisory: a damaged EXIF block never fails an image, it reads as absent.
Every value is checked where it enters, so it fits wherever it goes: text through
``metadata_text.clean_text``, times within a plausible range, orientation 1..8.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import ExifTags, Image

from processor.imaging.metadata_text import clean_text

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
# Characters of that format; what follows (a NUL, subseconds, garbage) is ignored.
_EXIF_DATETIME_LENGTH = 19
# Years a photo can plausibly have been taken in; outside it, a clock that was never set
# (year 1, 9999) or garbage. A camera's date is unknown rather than absurd.
_YEARS = range(1800, 2201)

# Camera names are short; anything longer is garbage, cut to fit a database column
# (Image.camera_make and camera_model are String(100)).
_MAX_TEXT = 100

# Formats whose decoder applies the orientation itself, so turning by EXIF as well would
# rotate twice: libheif rotates and mirrors by the HEIF irot/imir boxes (and pillow-heif
# resets the EXIF tag to 1); Pillow's TIFF plugin reports the upright size on opening and
# transposes the pixels by the Orientation tag as it loads them.
_ORIENTED_BY_DECODER = frozenset({"HEIF", "TIFF"})


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
                camera_make=clean_text(exif.get(ExifTags.Base.Make), _MAX_TEXT),
                camera_model=clean_text(exif.get(ExifTags.Base.Model), _MAX_TEXT),
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


def _parse_datetime(value: object) -> datetime | None:
    """Unknown (None) for blanks, zeros, garbage and years outside ``_YEARS``."""
    text = clean_text(value, _EXIF_DATETIME_LENGTH)
    if text is None:
        return None
    try:
        moment = datetime.strptime(text, _EXIF_DATETIME)
    except ValueError:
        return None
    return moment if moment.year in _YEARS else None
