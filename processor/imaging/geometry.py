"""Sizes and turns: fitting a box without upscaling, and what EXIF orientation does."""

from __future__ import annotations

from PIL import Image

Size = tuple[int, int]

# EXIF orientation -> the transpose that makes the stored pixels upright (as
# ImageOps.exif_transpose does). Orientation 1 needs none.
UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def turn(size: Size, orientation: int) -> Size:
    """``size`` seen from the other side of an orientation: 5..8 swap width and height.

    It maps stored to upright and upright to stored alike.
    """
    width, height = size
    return (height, width) if orientation >= 5 else (width, height)


def fit(size: Size, box: Size) -> Size:
    """The largest size of the same aspect ratio inside ``box``; never larger than ``size``."""
    width, height = size
    box_width, box_height = box
    if width <= box_width and height <= box_height:
        return size
    scale = min(box_width / width, box_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
