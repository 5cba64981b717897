"""Opening untrusted bytes: sniffing, the allow-list and the limits, before any decode."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from glowworm.errors import FailureKind, PermanentError
from processor.imaging import Limits
from processor.imaging.header import open_image
from tests.processor.imaging.picture import corpus_bytes


def _saved(format_name: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, format_name)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        b'  <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN">\n<svg/>',
        b"<!-- drawn by hand -->\n<SVG></SVG>",
    ],
)
def test_svg_is_named_as_unsupported(svg: bytes) -> None:
    with pytest.raises(PermanentError) as failure:
        open_image(svg, Limits())
    assert failure.value.kind is FailureKind.UNSUPPORTED_FORMAT
    assert "SVG" in failure.value.message


@pytest.mark.parametrize(
    "text",
    [
        b"<html><body>hello</body></html>",
        b"<!DOCTYPE html><html><body><svg/></body></html>",
        b"%PDF-1.7\n",
        b"\x00" * 64,
    ],
)
def test_other_non_images_are_not_recognised(text: bytes) -> None:
    with pytest.raises(PermanentError) as failure:
        open_image(text, Limits())
    assert failure.value.kind is FailureKind.NOT_AN_IMAGE


@pytest.mark.parametrize("format_name", ["ICO", "PCX", "PPM", "TGA"])
def test_formats_pillow_reads_but_we_refuse(format_name: str) -> None:
    with pytest.raises(PermanentError) as failure:
        open_image(_saved(format_name), Limits())
    assert failure.value.kind is FailureKind.UNSUPPORTED_FORMAT
    assert f"unsupported image format {format_name}" in failure.value.message


def test_content_decides_the_format_not_the_name() -> None:
    png_named_jpg = _saved("PNG")  # bytes are all we are given; the name says .jpg
    assert open_image(png_named_jpg, Limits()).format == "PNG"


def test_byte_limit_is_inclusive() -> None:
    data = corpus_bytes("pillow-rgb.bmp")
    assert open_image(data, Limits(max_bytes=len(data))).format == "BMP"
    with pytest.raises(PermanentError) as failure:
        open_image(data, Limits(max_bytes=len(data) - 1))
    assert failure.value.kind is FailureKind.TOO_LARGE


def test_pixel_limit_is_inclusive_and_names_the_size() -> None:
    data = corpus_bytes("pillow-rgb.bmp")
    assert open_image(data, Limits(max_pixels=128 * 128)).size == (128, 128)
    with pytest.raises(PermanentError) as failure:
        open_image(data, Limits(max_pixels=128 * 128 - 1))
    assert "128x128 = 16,384 pixels exceeds the limit of 16,383 pixels" in failure.value.message


def test_opening_leaves_the_pixels_undecoded() -> None:
    image = open_image(corpus_bytes("big-6000x4000-orientation-6.jpg"), Limits())
    assert image.tile  # still to decode
    assert image.size == (6000, 4000)
