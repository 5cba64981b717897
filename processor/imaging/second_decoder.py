"""libvips as the second decoder: files Pillow refuses that a viewer still shows.

libtiff reads TIFF layouts Pillow's plugin does not (two samples a pixel, float RGB,
photometric values it has no mode for), and libvips' loaders step over damage Pillow
stops at. Only a file Pillow refused as corrupt or unrecognised is tried here, within
the same allow-list and limits; truncated data stays refused (``fail_on="truncated"``),
as Pillow refuses it. What comes back is upright 8-bit sRGB RGB with its warning, which
the job keeps in the status: the derivatives exist, but someone may want to know.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyvips
from PIL import Image

from glowworm.errors import FailureKind, PermanentError
from processor.imaging import large_jpeg
from processor.imaging.formats import Limits
from processor.imaging.geometry import turn
from processor.imaging.header import check_pixels

# What Pillow's refusal may be rescued from; a bomb, a limit or a refused format is final.
RESCUABLE = frozenset({FailureKind.CORRUPT, FailureKind.NOT_AN_IMAGE})

# Leading bytes -> the libvips loader tried and the format name Pillow would have given.
# Sniffed here, so that no other libvips loader (SVG, PDF, FITS, ...) ever parses an
# upload: each extra decoder is extra attack surface (formats.MIME_TYPES).
_LOADERS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "jpegload_buffer", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "pngload_buffer", "PNG"),
    (b"GIF8", "gifload_buffer", "GIF"),
    (b"II*\x00", "tiffload_buffer", "TIFF"),
    (b"MM\x00*", "tiffload_buffer", "TIFF"),
)
# WebP is a RIFF file with this form type at byte 8.
_WEBP = (b"RIFF", b"WEBP", "webpload_buffer", "WEBP")

# Transparent areas become paper white, as in colour.WHITE.
_WHITE = [255, 255, 255]
# Bands of an RGB picture.
_RGB_BANDS = 3


@dataclass(frozen=True)
class Header:
    """What libvips read from the header of a file Pillow refused."""

    format: str
    # Upright size, after the EXIF orientation libvips found.
    width: int
    height: int
    frames: int
    warning: str


def warning(refused: PermanentError) -> str:
    """The warning kept in the status of a file only libvips could read."""
    return (
        f"decoded with recoverable errors: the first decoder refused it ({refused.message}); "
        "libvips read it"
    )


def read_header(data: bytes, limits: Limits, refused: PermanentError) -> Header:
    """The header, through libvips; raises ``refused`` again when libvips cannot read it."""
    image, format_name = _open(data, limits, refused)
    orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    width, height = turn((image.width, image.height), orientation)
    frames = image.get("n-pages") if image.get_typeof("n-pages") else 1
    return Header(format_name, width, height, frames, warning(refused))


def decode(data: bytes, limits: Limits, refused: PermanentError) -> Image.Image:
    """The first frame as upright 8-bit sRGB RGB, transparency on white.

    Raises ``refused`` again when libvips cannot decode it either, and MemoryError when
    libvips runs out of memory.
    """
    image, _ = _open(data, limits, refused)
    try:
        pixels = _to_srgb(image.autorot())
        made = pixels.write_to_memory()
    except pyvips.Error as e:
        if "out of memory" in (e.detail or ""):
            raise MemoryError(e.detail) from e
        raise refused from refused.__cause__
    return Image.frombytes("RGB", (pixels.width, pixels.height), made)


def _open(data: bytes, limits: Limits, refused: PermanentError) -> tuple[pyvips.Image, str]:
    loader, format_name = _sniff(data, refused)
    large_jpeg.configure_libvips()
    try:
        image = pyvips.Operation.call(loader, data, access="sequential", fail_on="truncated")
    except pyvips.Error:
        raise refused from refused.__cause__
    check_pixels((image.width, image.height), limits)
    return image, format_name


def _sniff(data: bytes, refused: PermanentError) -> tuple[str, str]:
    """The libvips loader for an allowed format, by the leading bytes; else ``refused``."""
    for magic, loader, format_name in _LOADERS:
        if data.startswith(magic):
            return loader, format_name
    riff, form, loader, format_name = _WEBP
    if data.startswith(riff) and data[8:12] == form:
        return loader, format_name
    raise refused


def _to_srgb(image: pyvips.Image) -> pyvips.Image:
    """Any layout libvips loaded as three 8-bit sRGB bands.

    Bands libvips cannot name (``multiband``: a photometric value it has no space for)
    are read as gray (one or two bands, the second alpha) or RGB (three or more).
    """
    if image.interpretation == "multiband":
        gray = image.bands < _RGB_BANDS
        image = image.copy(interpretation="b-w" if gray else "srgb")
    if image.hasalpha():
        image = image.flatten(background=_WHITE)
    image = image.colourspace("srgb")
    if image.bands > _RGB_BANDS:
        image = image.extract_band(0, n=_RGB_BANDS)
    return image.cast("uchar")
