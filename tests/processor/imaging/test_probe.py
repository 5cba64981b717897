"""probe(): what the header says, without decoding pixels."""

from __future__ import annotations

from datetime import datetime

import pytest
from PIL import ImageFile

from glowworm.errors import FailureKind, PermanentError
from processor.imaging import ImageInfo, Limits, probe
from tests.processor.imaging.picture import corpus_bytes

CASES: dict[str, ImageInfo] = {
    "big-6000x4000-orientation-6.jpg": ImageInfo(
        "JPEG", "image/jpeg", 4000, 6000, 6, None, "corpus-generator", "synthetic", 1
    ),
    "pillow-icc-adobergb.jpg": ImageInfo(
        "JPEG",
        "image/jpeg",
        2000,
        1072,
        1,
        datetime(2018, 10, 27, 13, 27, 23),  # DateTimeOriginal, not the later DateTime
        "Canon",
        "Canon EOS Rebel T6",
        1,
    ),
    "heic-iphone8plus-rotated.heic": ImageInfo(
        "HEIF",
        "image/heic",
        3024,
        4032,
        1,  # libheif has already turned it
        datetime(2018, 7, 31, 14, 52, 7),
        "Apple",
        "iPhone 8 Plus",
        1,
    ),
    "orientation-landscape-6.jpg": ImageInfo(
        "JPEG", "image/jpeg", 1800, 1200, 6, None, None, None, 1
    ),
    "orientation-portrait-5.jpg": ImageInfo(
        "JPEG", "image/jpeg", 1200, 1800, 5, None, None, None, 1
    ),
    "orientation-portrait-0.jpg": ImageInfo(
        "JPEG", "image/jpeg", 1200, 1800, 1, None, None, None, 1
    ),
    "pillow-cmyk.jpg": ImageInfo(
        "JPEG", "image/jpeg", 100, 100, 1, datetime(2009, 3, 6, 22, 15), None, None, 1
    ),
    "pillow-stereo.mpo": ImageInfo(
        "MPO",
        "image/jpeg",
        640,
        480,
        1,
        datetime(2014, 3, 2, 14, 17, 39),
        "Nintendo",
        "Nintendo 3DS",
        2,
    ),
    "pillow-animated.gif": ImageInfo("GIF", "image/gif", 320, 240, 1, None, None, None, 31),
    "pillow-animated.webp": ImageInfo("WEBP", "image/webp", 245, 245, 1, None, None, None, 42),
    "pillow-rgb.avif": ImageInfo("AVIF", "image/avif", 128, 128, 1, None, None, None, 1),
    "gradient-16bit-gray.png": ImageInfo("PNG", "image/png", 256, 64, 1, None, None, None, 1),
    "pillow-rgb.tif": ImageInfo("TIFF", "image/tiff", 128, 128, 1, None, None, None, 1),
    "pillow-rgb.bmp": ImageInfo("BMP", "image/bmp", 128, 128, 1, None, None, None, 1),
    # The header is intact; only the pixel data is cut short.
    "pillow-truncated.jpg": ImageInfo("JPEG", "image/jpeg", 100, 100, 1, None, None, None, 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_probe_reads_the_header(name: str) -> None:
    assert probe(corpus_bytes(name), Limits()) == CASES[name]


@pytest.mark.parametrize(
    "name", ["big-6000x4000-orientation-6.jpg", "gradient-16bit-gray.png", "pillow-animated.gif"]
)
def test_probe_decodes_no_pixels(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("probe decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    assert probe(corpus_bytes(name)).format


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("empty.jpg", FailureKind.EMPTY),
        ("fake.jpg", FailureKind.NOT_AN_IMAGE),
        ("image.svg", FailureKind.UNSUPPORTED_FORMAT),
        ("pillow-bomb.gif", FailureKind.DECOMPRESSION_BOMB),
        ("pillow-bomb.ico", FailureKind.DECOMPRESSION_BOMB),
        ("bomb-30000x30000.png", FailureKind.DECOMPRESSION_BOMB),
    ],
)
def test_probe_refuses_what_render_refuses_before_decoding(name: str, kind: FailureKind) -> None:
    with pytest.raises(PermanentError) as failure:
        probe(corpus_bytes(name))
    assert failure.value.kind is kind


def test_probe_applies_the_limits() -> None:
    with pytest.raises(PermanentError) as failure:
        probe(corpus_bytes("pillow-stereo.mpo"), Limits(max_pixels=640 * 480 - 1))
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB
