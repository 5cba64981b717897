"""How one size is made from a larger one: the kernel that sets speed, quality and memory."""

from __future__ import annotations

from PIL import Image

from processor.imaging.geometry import Size

# Sources above this many pixels (the first, biggest resize of a photo) use the Hamming
# kernel, whose support of 1 costs half of Lanczos' 3. On photos it lands within ~40 dB
# PSNR of Lanczos, below what JPEG q85 itself changes. Smaller sources (every later step
# of the cascade) use Lanczos, where it is cheap.
HAMMING_ABOVE_PIXELS = 4_000_000

# Whole factors of a shrink are first averaged away with Image.reduce (a box filter, very
# cheap) while the kernel still covers at least this factor; 2.0 is Image.thumbnail's.
REDUCING_GAP = 2.0

# A big source is resized this many output rows at a time: the horizontal pass then
# needs a few MB instead of a second copy of most of the picture (50 MB at 24 MP).
# Pillow's kernel reaches across band edges, so the bands join without seams.
BAND_ROWS = 256

Box = tuple[float, float, float, float]


def shrink(image: Image.Image, size: Size) -> Image.Image:
    """``image`` resized to ``size``, which must not be larger."""
    if image.size == size:
        return image
    factor = _whole_factor(image.size, size)
    if factor:
        # Each output pixel is exactly a factor x factor block: the block's average is
        # within ~50 dB PSNR of Lanczos there, for a quarter of the time or less (the
        # 1080 px variant is exactly half the 2160 px one for 4:3 and 3:2 photos).
        return image.reduce(factor)
    image, box = _reduce(image, size)
    if image.width * image.height <= HAMMING_ABOVE_PIXELS:
        return image.resize(size, Image.Resampling.LANCZOS, box=box)
    return _resize_in_bands(image, size, box)


def _whole_factor(source: Size, size: Size) -> int | None:
    """k when ``source`` is exactly k times ``size`` both ways; None otherwise."""
    factor = source[0] // size[0]
    if factor > 1 and source == (factor * size[0], factor * size[1]):
        return factor
    return None


def _reduce(image: Image.Image, size: Size) -> tuple[Image.Image, Box]:
    """Average whole blocks away while the rest of the shrink stays above the gap.

    Returns the smaller image and the box of it that covers the original picture
    (blocks at the right and bottom edges may be partial), as Image.resize does.
    """
    factor_x = int(image.width / size[0] / REDUCING_GAP) or 1
    factor_y = int(image.height / size[1] / REDUCING_GAP) or 1
    whole = (0.0, 0.0, float(image.width), float(image.height))
    if factor_x == factor_y == 1:
        return image, whole
    reduced = image.reduce((factor_x, factor_y))
    return reduced, (0.0, 0.0, image.width / factor_x, image.height / factor_y)


def _resize_in_bands(image: Image.Image, size: Size, box: Box) -> Image.Image:
    left, top, right, bottom = box
    rows_per_output_row = (bottom - top) / size[1]
    resized = Image.new(image.mode, size)
    for first in range(0, size[1], BAND_ROWS):
        last = min(size[1], first + BAND_ROWS)
        band_box = (
            left,
            top + first * rows_per_output_row,
            right,
            top + last * rows_per_output_row,
        )
        band = image.resize((size[0], last - first), Image.Resampling.HAMMING, box=band_box)
        resized.paste(band, (0, first))
    return resized
