"""Every mode to 8-bit RGB on white; embedded profiles to sRGB."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from glowworm.errors import FailureKind, PermanentError
from processor.imaging.colour import to_srgb, to_working_mode
from tests.processor.imaging.picture import CORPUS, rgb


def _gray16(values: list[int]) -> Image.Image:
    image = Image.new("I;16", (len(values), 1))
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    return image


def _row(image: Image.Image) -> list[tuple[int, int, int]]:
    return [rgb(image, (x, 0)) for x in range(image.width)]


def test_full_range_16_bit_is_scaled_not_clipped() -> None:
    rgb = to_working_mode(_gray16([0, 257, 32896, 65535]))
    assert rgb.mode == "RGB"
    assert _row(rgb) == [(0, 0, 0), (1, 1, 1), (128, 128, 128), (255, 255, 255)]


def test_16_bit_holding_8_bit_values_is_kept() -> None:
    assert _row(to_working_mode(_gray16([0, 10, 200, 255]))) == [
        (0, 0, 0),
        (10, 10, 10),
        (200, 200, 200),
        (255, 255, 255),
    ]


def test_16_bit_colour_key_becomes_white() -> None:
    image = _gray16([0, 1000, 65535])
    image.info["transparency"] = 1000
    assert _row(to_working_mode(image)) == [(0, 0, 0), (255, 255, 255), (255, 255, 255)]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_alpha_is_flattened_onto_white(mode: str) -> None:
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (0, 0, 0, 255))
    converted = to_working_mode(image.convert(mode))
    assert converted.mode == "RGB"
    assert _row(converted) == [(255, 255, 255), (0, 0, 0)]


def test_half_transparent_black_is_mid_gray() -> None:
    converted = to_working_mode(Image.new("RGBA", (1, 1), (0, 0, 0, 128)))
    assert _row(converted) == [(127, 127, 127)]


def test_palette_transparency_becomes_white() -> None:
    image = Image.new("P", (2, 1), 0)
    image.putpalette([10, 20, 30, 200, 0, 0])
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 0
    assert _row(to_working_mode(image)) == [(255, 255, 255), (200, 0, 0)]


def test_rgb_colour_key_becomes_white() -> None:
    image = Image.new("RGB", (2, 1), (0, 255, 0))
    image.putpixel((1, 0), (9, 9, 9))
    image.info["transparency"] = (0, 255, 0)
    assert _row(to_working_mode(image)) == [(255, 255, 255), (9, 9, 9)]


@pytest.mark.parametrize("mode", ["RGB", "CMYK"])
def test_working_modes_pass_through_untouched(mode: str) -> None:
    image = Image.new(mode, (1, 1))
    assert to_working_mode(image) is image


@pytest.mark.parametrize("mode", ["1", "L", "P", "YCbCr", "LAB", "HSV"])
def test_other_modes_become_rgb(mode: str) -> None:
    assert to_working_mode(Image.new(mode, (1, 1))).mode == "RGB"


def test_a_mode_pillow_cannot_convert_is_refused() -> None:
    with pytest.raises(PermanentError) as failure:
        to_working_mode(Image.new("La", (1, 1)))
    assert failure.value.kind is FailureKind.UNSUPPORTED_FORMAT
    assert "colour mode La" in failure.value.message


def _adobe_rgb() -> bytes:
    with Image.open(CORPUS / "pillow-icc-adobergb.jpg") as image:
        profile: bytes = image.info["icc_profile"]
    return profile


def test_rgb_without_a_profile_is_taken_as_srgb() -> None:
    image = Image.new("RGB", (1, 1), (1, 2, 3))
    assert to_srgb(image, None) is image


def test_srgb_profile_is_not_converted() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (1, 1), (1, 2, 3))
    assert to_srgb(image, srgb) is image


def test_adobe_rgb_green_gets_more_saturated() -> None:
    converted = to_srgb(Image.new("RGB", (1, 1), (60, 160, 60)), _adobe_rgb())
    red, green, blue = rgb(converted, (0, 0))
    assert green - max(red, blue) > 100 + 10


@pytest.mark.parametrize("profile", [b"not a profile", b""])
def test_unreadable_profile_is_ignored(profile: bytes) -> None:
    image = Image.new("RGB", (1, 1), (1, 2, 3))
    assert rgb(to_srgb(image, profile), (0, 0)) == (1, 2, 3)


def test_profile_of_another_colour_space_is_ignored() -> None:
    cmyk = Image.new("CMYK", (1, 1), (0, 0, 0, 0))
    assert rgb(to_srgb(cmyk, _adobe_rgb()), (0, 0)) == (255, 255, 255)


def test_cmyk_without_a_profile_is_converted_to_rgb() -> None:
    red = to_srgb(Image.new("CMYK", (1, 1), (0, 255, 255, 0)), None)
    assert red.mode == "RGB"
    assert rgb(red, (0, 0)) == (255, 0, 0)


def test_profile_bytes_round_trip_through_a_file() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (60, 160, 60)).save(buffer, "PNG", icc_profile=_adobe_rgb())
    with Image.open(buffer) as image:
        assert image.info["icc_profile"] == _adobe_rgb()
