"""The allow-list, the limits and the HEIF opener."""

from __future__ import annotations

import io

from PIL import Image

from processor.imaging import ALLOWED_FORMATS, Limits, register_openers
from processor.imaging.formats import mime_type
from tests.processor.imaging.picture import corpus_bytes


def test_allow_list_is_the_photo_formats_and_nothing_else() -> None:
    photo_formats = {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO", "HEIF", "AVIF"}
    assert photo_formats == ALLOWED_FORMATS


def test_default_limits() -> None:
    assert Limits() == Limits(max_pixels=100_000_000, max_bytes=50 * 1024 * 1024)


def test_register_openers_is_idempotent_and_opens_heic() -> None:
    register_openers()
    register_openers()
    with Image.open(io.BytesIO(corpus_bytes("heic-iphone8plus-rotated.heic"))) as image:
        assert image.format == "HEIF"
        assert image.size == (3024, 4032)


def test_heic_brand_gets_the_heic_mime_type() -> None:
    heic = corpus_bytes("heic-iphone8plus-rotated.heic")
    assert heic[8:12] == b"heic"
    assert mime_type("HEIF", heic) == "image/heic"
    assert mime_type("HEIF", heic[:8] + b"mif1" + heic[12:]) == "image/heif"


def test_mpo_is_served_as_jpeg() -> None:
    assert mime_type("MPO", b"") == "image/jpeg"
