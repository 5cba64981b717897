"""Reading rendered JPEGs back, and measuring pictures the way a person would judge them."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from glowworm.sizes import SizeSpec
from processor.imaging import Rendition

CORPUS = Path(__file__).parents[2] / "data" / "corpus"

# Corpus files that must fail, and how.
UNREADABLE = frozenset(
    {
        "empty.jpg",
        "fake.jpg",
        "image.svg",
        "pillow-bomb.gif",
        "pillow-bomb.ico",
        "bomb-30000x30000.png",
        "pillow-truncated.jpg",
    }
)

# Every readable corpus file with its upright size as MANIFEST.md states it (after the
# EXIF orientation; HEIC as pillow-heif reports it, already turned).
UPRIGHT_SIZES: dict[str, tuple[int, int]] = {
    **{f"orientation-landscape-{n}.jpg": (1800, 1200) for n in range(9)},
    **{f"orientation-portrait-{n}.jpg": (1200, 1800) for n in range(9)},
    "big-6000x4000-orientation-6.jpg": (4000, 6000),
    "heic-iphone8plus-rotated.heic": (3024, 4032),
    "gradient-16bit-gray.png": (256, 64),
    "pillow-16bit-gray.png": (64, 64),
    "pillow-animated.gif": (320, 240),
    "pillow-animated.webp": (245, 245),
    "pillow-cmyk.jpg": (100, 100),
    "pillow-gray.jpg": (128, 128),
    "pillow-icc-adobergb.jpg": (2000, 1072),
    "pillow-icc-srgb.jpg": (300, 225),
    "pillow-orientation-6.jpg": (128, 128),
    "pillow-orientation-8-2x1.jpg": (1, 2),
    "pillow-palette-trns.png": (162, 150),
    "pillow-progressive.jpg": (256, 160),
    "pillow-rgb.avif": (128, 128),
    "pillow-rgb.bmp": (128, 128),
    "pillow-rgb.tif": (128, 128),
    "pillow-rgb.webp": (128, 128),
    "pillow-rgba.png": (200, 150),
    "pillow-stereo.mpo": (640, 480),
}


def corpus_bytes(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def expected_size(upright: tuple[int, int], spec: SizeSpec) -> tuple[int, int]:
    """The spec's box, turned like the picture, filled without upscaling."""
    width, height = upright
    short, long = sorted((spec.width, spec.height))
    box_width, box_height = (long, short) if width > height else (short, long)
    scale = min(box_width / width, box_height / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def decoded(rendition: Rendition) -> Image.Image:
    """The rendition as a browser would decode it (still carrying its info and EXIF)."""
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    """The RGB value of one pixel, whatever the mode."""
    red, green, blue = image.convert("RGB").crop((*xy, xy[0] + 1, xy[1] + 1)).tobytes()
    return red, green, blue


def gray_row(image: Image.Image, y: int) -> list[int]:
    """One row of the picture as 8-bit gray values."""
    return list(image.convert("L").crop((0, y, image.width, y + 1)).tobytes())


def largest_difference(a: Image.Image, b: Image.Image) -> int:
    """The largest per-channel difference between two same-sized pictures."""
    return max(ImageChops.difference(a.convert("RGB"), b.convert("RGB")).tobytes())


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255, of two same-sized pictures."""
    assert a.size == b.size, (a.size, b.size)
    stat = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    return sum(stat.mean) / 3


def mean_colour(image: Image.Image) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(image.convert("RGB")).mean)


def dark_rows(image: Image.Image, threshold: int = 90) -> list[int]:
    """Per row, the width spanned by dark (ink) pixels; 0 for a row without ink."""
    gray = image.convert("L")
    spans = []
    for y in range(gray.height):
        row = gray.crop((0, y, gray.width, y + 1)).point(lambda v: 255 if v < threshold else 0)
        box = row.getbbox()
        spans.append(0 if box is None else box[2] - box[0])
    return spans


def red_pixels(image: Image.Image) -> int:
    """How many pixels are strongly red (the big test image's TOP arrow and label)."""
    red, green, blue = image.convert("RGB").split()
    mask = ImageChops.multiply(
        red.point(lambda v: 255 if v > 160 else 0),
        ImageChops.lighter(green, blue).point(lambda v: 255 if v < 90 else 0),
    )
    return mask.histogram()[255]
