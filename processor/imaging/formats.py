"""What we accept as input: the format allow-list, the size limits and the openers."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pillow_heif


@dataclass(frozen=True)
class Limits:
    """Ceilings checked before any pixel is decoded; over either one fails permanently."""

    # Per frame, from the header: 100 MP is well above any camera (a 24 MP photo is 24 M).
    max_pixels: int = 100_000_000
    # The encoded upload; a phone photo is 2-12 MB.
    max_bytes: int = 50 * 1024 * 1024


# The limits a caller gets when it passes none.
DEFAULT_LIMITS = Limits()

# Pillow format name -> MIME type of every format we decode. Anything else Pillow can
# read (ICO, PSD, EPS, PCX, ...) is refused: each extra decoder is extra attack surface.
MIME_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    # A stereo photo (Nintendo 3DS, some Fujifilm); its first frame is a plain JPEG.
    "MPO": "image/jpeg",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
}

ALLOWED_FORMATS: frozenset[str] = frozenset(MIME_TYPES)

# ISO-BMFF major brands that mean HEVC-coded HEIF, which browsers and S3 call image/heic.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


@functools.cache
def register_openers() -> None:
    """Teach Pillow to open HEIF/HEIC (pillow-heif); safe to call any number of times."""
    # Thumbnails stay enabled: draft() may then decode an embedded preview that is big
    # enough instead of the whole picture, which is what we want.
    pillow_heif.register_heif_opener()


def mime_type(format_name: str, data: bytes) -> str:
    """The MIME type of an accepted format, refined by the file's brand for HEIF."""
    if format_name == "HEIF" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return MIME_TYPES[format_name]
