"""Untrusted bytes opened up to the header: limits, sniffing and the allow-list.

Nothing here decodes pixels, so every check runs before any large allocation.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFile

from glowworm.errors import FailureKind, PermanentError
from processor.imaging.failures import bomb_message, library_errors
from processor.imaging.formats import ALLOWED_FORMATS, Limits, register_openers

# Leading bytes that may come before an SVG root element.
_TEXT_PREAMBLE = b"\xef\xbb\xbf \t\r\n"
# How far into a text file we look for "<svg".
_SVG_SNIFF_BYTES = 4096
# Longest side we accept, in pixels: JPEG's and GIF's own ceiling (WebP's is 16,383).
# No photo is longer; such a strip's derivatives would be slivers a few pixels across.
MAX_SIDE = 65_535


def open_image(data: bytes, limits: Limits) -> ImageFile.ImageFile:
    """Open ``data`` lazily after checking its size, format and pixel count.

    The format is sniffed from the bytes; a file name or content type is never trusted.
    Raises PermanentError: EMPTY, TOO_LARGE (bytes, or a side over MAX_SIDE),
    UNSUPPORTED_FORMAT (vector, or a raster format outside ALLOWED_FORMATS), NOT_AN_IMAGE,
    DECOMPRESSION_BOMB (pixels per frame over the limit) or CORRUPT (a header Pillow cannot
    parse, or one claiming no pixels).
    """
    check_bytes(data, limits)
    refuse_vector(data)
    register_openers()
    with library_errors(limits):
        image = Image.open(io.BytesIO(data))
    refuse_format(image.format)
    check_pixels(image.size, limits)
    return image


def check_bytes(data: bytes, limits: Limits) -> None:
    """Refuse an empty upload or one over the byte limit."""
    if not data:
        raise PermanentError(FailureKind.EMPTY, "empty file (0 bytes)")
    if len(data) > limits.max_bytes:
        raise PermanentError(
            FailureKind.TOO_LARGE,
            f"file of {len(data):,} bytes exceeds the limit of {limits.max_bytes:,} bytes",
        )


def refuse_vector(data: bytes) -> None:
    """Name SVG explicitly: to Pillow it is just text, but users expect it to work."""
    head = data[:_SVG_SNIFF_BYTES].lstrip(_TEXT_PREAMBLE).lower()
    if not head.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--")):
        return
    if b"<svg" in head and b"<html" not in head:
        raise PermanentError(
            FailureKind.UNSUPPORTED_FORMAT,
            "unsupported format: SVG is a vector format; upload a raster image instead",
        )


def refuse_format(format_name: str | None) -> None:
    """Refuse anything Pillow can read but we do not accept (ICO, PSD, EPS, ...)."""
    if format_name in ALLOWED_FORMATS:
        return
    accepted = ", ".join(sorted(ALLOWED_FORMATS))
    raise PermanentError(
        FailureKind.UNSUPPORTED_FORMAT,
        f"unsupported image format {format_name} (accepted: {accepted})",
    )


def check_pixels(size: tuple[int, int], limits: Limits) -> None:
    """Refuse a frame whose header claims no pixels, more pixels than the limit allows,
    or a side longer than MAX_SIDE (checked after the pixels, so a bomb is named one)."""
    width, height = size
    if width <= 0 or height <= 0:
        raise PermanentError(
            FailureKind.CORRUPT, f"corrupt image header: it claims a size of {width}x{height}"
        )
    pixels = width * height
    if pixels > limits.max_pixels:
        raise PermanentError(
            FailureKind.DECOMPRESSION_BOMB, bomb_message(pixels, limits.max_pixels, size)
        )
    if max(size) > MAX_SIDE:
        raise PermanentError(
            FailureKind.TOO_LARGE,
            f"image of {width:,}x{height:,} pixels exceeds the limit of {MAX_SIDE:,} pixels a side",
        )
