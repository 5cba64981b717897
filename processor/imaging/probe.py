"""What an upload is, read from its header alone: format, upright size, EXIF facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from glowworm.errors import PermanentError
from processor.imaging import second_decoder
from processor.imaging.exif import read_exif
from processor.imaging.failures import library_errors
from processor.imaging.formats import DEFAULT_LIMITS, Limits, mime_type
from processor.imaging.geometry import turn
from processor.imaging.header import open_image


@dataclass(frozen=True)
class ImageInfo:
    """The facts about an original that are worth a database column.

    Each fits the column it goes to (glowworm.models.Image): nothing read from the file
    reaches here unchecked.
    """

    # Pillow's format name, sniffed from the bytes: one of ALLOWED_FORMATS.
    format: str
    # From our own table (formats.MIME_TYPES), never from the file.
    mime_type: str
    # Upright size: after the EXIF orientation is applied; 1..header.MAX_SIDE each.
    width: int
    height: int
    # EXIF orientation 1..8 still to apply to the stored pixels; invalid or missing -> 1,
    # and 1 for HEIF and TIFF, whose decoders apply it themselves.
    orientation: int
    # DateTimeOriginal (else DateTime): the camera's wall-clock time, naive, in the
    # years 1800..2200; None when missing or implausible.
    taken_at: datetime | None
    # Printable one-line text of at most 100 characters (metadata_text.clean_text).
    camera_make: str | None
    camera_model: str | None
    frames: int
    # "decoded with recoverable errors: ..." when only the second decoder read the header.
    warning: str | None = None


def probe(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ImageInfo:
    """Describe ``data`` without decoding its pixels.

    Raises PermanentError for the same reasons as ``render`` short of decoding: EMPTY,
    TOO_LARGE, UNSUPPORTED_FORMAT, NOT_AN_IMAGE, DECOMPRESSION_BOMB, CORRUPT. A header
    Pillow refuses as corrupt or unrecognised is read by libvips, with a warning.
    """
    try:
        image = open_image(data, limits)
    except PermanentError as refused:
        if refused.kind not in second_decoder.RESCUABLE:
            raise
        return _probe_again(data, limits, refused)
    with library_errors(limits):
        # GIF counts frames by walking the blocks (no decoding); others read an index.
        frames = getattr(image, "n_frames", 1)
    facts = read_exif(image)
    width, height = turn(image.size, facts.orientation)
    return ImageInfo(
        format=str(image.format),
        mime_type=mime_type(str(image.format), data),
        width=width,
        height=height,
        orientation=facts.orientation,
        taken_at=facts.taken_at,
        camera_make=facts.camera_make,
        camera_model=facts.camera_model,
        frames=frames,
    )


def _probe_again(data: bytes, limits: Limits, refused: PermanentError) -> ImageInfo:
    """What libvips reads of a header Pillow refused; no EXIF facts (they are advisory)."""
    header = second_decoder.read_header(data, limits, refused)
    return ImageInfo(
        format=header.format,
        mime_type=mime_type(header.format, data),
        width=header.width,
        height=header.height,
        orientation=1,
        taken_at=None,
        camera_make=None,
        camera_model=None,
        frames=header.frames,
        warning=header.warning,
    )
