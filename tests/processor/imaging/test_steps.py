"""Each pipeline step on its own: what it changes, and the guard that lets it do nothing."""

from __future__ import annotations

import io

from PIL import Image, ImageFile

from processor.imaging import Limits
from processor.imaging.header import open_image
from processor.imaging.steps import (
    Canvas,
    first_frame,
    fit_largest,
    orient,
    shrink_large_jpeg,
    shrink_on_load,
    strip_metadata,
    to_srgb,
    to_working_mode,
)
from tests.processor.imaging.picture import corpus_bytes, rgb


def _canvas(name: str, target: tuple[int, int], orientation: int = 1) -> Canvas:
    data = corpus_bytes(name)
    image = open_image(data, Limits())
    return Canvas(image, orientation, image.info.get("icc_profile"), target, data)


def test_first_frame_goes_back_to_frame_zero() -> None:
    canvas = _canvas("pillow-animated.gif", (320, 240))
    canvas.image.seek(3)
    assert first_frame(canvas).image.tell() == 0


def test_shrink_large_jpeg_decodes_straight_to_the_target_in_stored_orientation() -> None:
    # Stored 6000x4000 with orientation 6: the upright 2160x3240 target is 3240x2160 stored.
    canvas = _canvas("big-6000x4000-orientation-6.jpg", (2160, 3240), orientation=6)
    shrunk = shrink_large_jpeg(canvas)
    assert shrunk.image.size == (3240, 2160)
    assert not isinstance(shrunk.image, ImageFile.ImageFile)  # decoded: no file left to read
    assert shrunk.orientation == 6


def test_shrink_large_jpeg_leaves_what_pillow_decodes_quickly() -> None:
    # 1800x1200 shrunk to 1620x1080: 2 MP to decode, below MIN_DECODED_PIXELS.
    canvas = _canvas("orientation-landscape-1.jpg", (1620, 1080))
    assert shrink_large_jpeg(canvas) is canvas


def test_shrink_on_load_decodes_jpeg_at_a_fraction_but_not_below_the_target() -> None:
    # Stored 1200x1800 with orientation 6: the upright 600x400 target is 400x600 stored.
    canvas = shrink_on_load(_canvas("orientation-landscape-6.jpg", (600, 400), orientation=6))
    assert canvas.image.size == (600, 900)
    canvas.image.load()
    assert canvas.image.size == (600, 900)


def test_shrink_on_load_keeps_full_size_when_it_cannot_halve() -> None:
    canvas = shrink_on_load(_canvas("orientation-landscape-1.jpg", (1620, 1080)))
    assert canvas.image.size == (1800, 1200)


def test_shrink_on_load_leaves_other_formats_alone() -> None:
    canvas = shrink_on_load(_canvas("gradient-16bit-gray.png", (10, 3)))
    assert canvas.image.size == (256, 64)


def test_to_working_mode_skips_plain_rgb() -> None:
    canvas = Canvas(Image.new("RGB", (2, 2)), 1, None, (2, 2), b"")
    assert to_working_mode(canvas) is canvas


def test_fit_largest_resizes_in_stored_orientation() -> None:
    canvas = Canvas(Image.new("RGB", (400, 300)), 6, None, (150, 200), b"")
    assert fit_largest(canvas).image.size == (200, 150)
    done = Canvas(Image.new("RGB", (200, 150)), 6, None, (150, 200), b"")
    assert fit_largest(done).image.size == (200, 150)


def test_orient_turns_once_then_has_nothing_left_to_do() -> None:
    image = Image.new("RGB", (2, 1), (255, 0, 0))
    image.putpixel((1, 0), (0, 0, 255))
    canvas = orient(Canvas(image, 6, None, (1, 2), b""))
    assert canvas.orientation == 1
    assert canvas.image.size == (1, 2)
    assert rgb(canvas.image, (0, 0)) == (255, 0, 0)  # turned clockwise: left is now top
    assert orient(canvas) is canvas


def test_to_srgb_skips_untagged_rgb_and_clears_the_profile() -> None:
    untagged = Canvas(Image.new("RGB", (1, 1)), 1, None, (1, 1), b"")
    assert to_srgb(untagged) is untagged
    cmyk = to_srgb(Canvas(Image.new("CMYK", (1, 1)), 1, b"junk", (1, 1), b""))
    assert (cmyk.image.mode, cmyk.icc_profile) == ("RGB", None)


def test_strip_metadata_empties_the_info() -> None:
    image = Image.new("RGB", (1, 1))
    image.info.update(exif=b"Exif\x00\x00", comment=b"private-note", icc_profile=b"x")
    canvas = strip_metadata(Canvas(image, 1, None, (1, 1), b""))
    assert canvas.image.info == {}
    buffer = io.BytesIO()
    canvas.image.save(buffer, "JPEG")
    assert b"private-note" not in buffer.getvalue()
