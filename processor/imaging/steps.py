"""The named steps of the pipeline; each takes a Canvas and returns the next one.

Every step opens with the guard that lets it do nothing, so the order in
``pipeline.PIPELINE`` can be read, and tested, one step at a time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image, ImageFile

from processor.imaging import colour, large_jpeg
from processor.imaging.geometry import UPRIGHT, Size, turn
from processor.imaging.resampling import shrink

# Formats whose decoder can shrink while decoding (JPEG DCT scaling; HEIF embedded
# previews that are big enough), through Image.draft().
_SHRINK_ON_LOAD = frozenset({"JPEG", "MPO", "HEIF"})
# draft() only pays off when it can at least halve the picture.
_MIN_DRAFT_FACTOR = 2


@dataclass(frozen=True)
class Canvas:
    """The picture between two steps, and what is still to be done to it."""

    image: Image.Image
    # EXIF orientation still to apply; 1 once the pixels are upright.
    orientation: int
    # Embedded profile still to convert from; None once the pixels are sRGB.
    icc_profile: bytes | None
    # Size of the largest derivative, upright; the first resize goes straight to it.
    target: Size
    # The encoded upload, for a decoder that reads it itself (libvips, for big JPEGs).
    source: bytes
    # Set when only the second decoder could read the upload; kept in the status.
    warning: str | None = None


Step = Callable[[Canvas], Canvas]


def first_frame(canvas: Canvas) -> Canvas:
    """Animated and multi-frame files (GIF, WebP, MPO, TIFF) render their first frame."""
    if canvas.image.tell() == 0:
        return canvas
    canvas.image.seek(0)
    return canvas


def shrink_large_jpeg(canvas: Canvas) -> Canvas:
    """Decode a big RGB JPEG straight to the largest derivative's size, with libvips.

    Where this applies, the steps up to ``fit_largest`` find nothing left to do.
    """
    wanted = turn(canvas.target, canvas.orientation)
    if not large_jpeg.wanted_here(canvas.image, wanted):
        return canvas
    shrunk = large_jpeg.decode_shrunk(canvas.source, canvas.image.size, wanted)
    return replace(canvas, image=shrunk)


def shrink_on_load(canvas: Canvas) -> Canvas:
    """Let the decoder skip detail the largest derivative will not show.

    The request is in stored orientation and no smaller than the target, so quality is
    kept: JPEG decodes at 1/2, 1/4 or 1/8 scale, never below the target size.
    """
    image = canvas.image
    if image.format not in _SHRINK_ON_LOAD or not isinstance(image, ImageFile.ImageFile):
        return canvas
    wanted = turn(canvas.target, canvas.orientation)
    if image.width < _MIN_DRAFT_FACTOR * wanted[0] or image.height < _MIN_DRAFT_FACTOR * wanted[1]:
        return canvas
    image.draft(None, wanted)
    return canvas


def decode(canvas: Canvas) -> Canvas:
    """Decode the pixels: the one full decode of the call, after every header check."""
    canvas.image.load()
    return canvas


def to_working_mode(canvas: Canvas) -> Canvas:
    """8-bit RGB (or CMYK): 16-bit scaled, palette and alpha flattened onto white."""
    if canvas.image.mode in colour.WORKING_MODES and "transparency" not in canvas.image.info:
        return canvas
    return replace(canvas, image=colour.to_working_mode(canvas.image))


def fit_largest(canvas: Canvas) -> Canvas:
    """Resize to the largest derivative while still stored sideways: turning is cheaper after."""
    wanted = turn(canvas.target, canvas.orientation)
    if canvas.image.size == wanted:
        return canvas
    return replace(canvas, image=shrink(canvas.image, wanted))


def orient(canvas: Canvas) -> Canvas:
    """Apply the EXIF orientation, once; the orientation left to apply becomes 1."""
    if canvas.orientation == 1:
        return canvas
    upright = canvas.image.transpose(UPRIGHT[canvas.orientation])
    return replace(canvas, image=upright, orientation=1)


def to_srgb(canvas: Canvas) -> Canvas:
    """Convert from the embedded profile (Adobe RGB, Display P3, CMYK) to sRGB RGB.

    Done after the first resize, where there are fewest pixels to convert.
    """
    if canvas.icc_profile is None and canvas.image.mode == "RGB":
        return canvas
    srgb = colour.to_srgb(canvas.image, canvas.icc_profile)
    return replace(canvas, image=srgb, icc_profile=None)


def strip_metadata(canvas: Canvas) -> Canvas:
    """Drop EXIF (GPS), XMP, comments and profiles; every derivative inherits the empty info."""
    if not canvas.image.info:
        return canvas
    # The image is ours (a resize, a conversion or our own decode), so clear it in place
    # rather than copy megapixels.
    canvas.image.info = {}
    return canvas


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG, 4:2:0, no metadata: progressive or optimised coding costs 2-5x."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
