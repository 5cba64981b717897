"""Big JPEGs shrunk by libvips: the same picture as Pillow's path, and the same failures."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw

from glowworm.errors import FailureKind, PermanentError
from glowworm.sizes import SIZES_BY_NAME, VARIANT_SIZES
from processor.imaging import large_jpeg, render
from processor.imaging.formats import DEFAULT_LIMITS
from processor.imaging.geometry import Size
from processor.imaging.header import open_image
from tests.processor.imaging.picture import CORPUS, decoded, mean_abs_diff

# Mean absolute difference (0..255) between libvips' and Pillow's render of one photo:
# both resample the same decode with a support-1 kernel and encode at q85, so they land
# within ~1. On _photo, one row shifted is 4 away; a swapped channel or a turn, tens.
SAME_PICTURE = 2.0


def _jpeg(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def _photo(width: int, height: int) -> Image.Image:
    """Blotches 16 px across over a gradient, with a red top left and a blue bottom right."""
    texture = Image.effect_noise((width // 16, height // 16), 80).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (texture, gradient, ImageChops.invert(texture)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 5, height // 5), fill=(220, 30, 30))
    draw.rectangle((width - width // 5, height - height // 5, width, height), fill=(30, 30, 220))
    return image


def _without_libvips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(large_jpeg, "wanted_here", lambda image, wanted: False)


@pytest.mark.parametrize(
    ("size", "wanted", "factor"),
    [
        ((6000, 4000), (3240, 2160), 1),
        ((8000, 6000), (2880, 2160), 2),
        ((8000, 6000), (1999, 1500), 4),
        ((6000, 4000), (600, 400), 8),
    ],
)
def test_shrink_on_load_is_the_largest_that_still_covers_the_size(
    size: tuple[int, int], wanted: tuple[int, int], factor: int
) -> None:
    assert large_jpeg.load_shrink(size, wanted) == factor


@pytest.mark.parametrize(
    ("mode", "size", "wanted", "expected"),
    [
        ("RGB", (4000, 3000), (2880, 2160), True),
        # Thumbnails: draft() decodes at 1/4 (1000x750), which Pillow resizes quickly.
        ("RGB", (4000, 3000), (800, 600), False),
        ("RGB", (2000, 1500), (1440, 1080), False),
        ("RGB", (2000, 1500), (2000, 1500), False),
        ("CMYK", (4000, 3000), (2880, 2160), False),
        ("L", (4000, 3000), (2880, 2160), False),
    ],
)
def test_only_big_rgb_jpegs_go_to_libvips(
    mode: str, size: tuple[int, int], wanted: tuple[int, int], expected: bool
) -> None:
    image = open_image(_jpeg(Image.new(mode, size)), DEFAULT_LIMITS)
    assert large_jpeg.wanted_here(image, wanted) is expected


def test_other_formats_stay_with_pillow() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000)).save(buffer, "PNG", compress_level=1)
    image = open_image(buffer.getvalue(), DEFAULT_LIMITS)
    assert not large_jpeg.wanted_here(image, (2880, 2160))


@pytest.mark.parametrize("orientation", [1, 6, 3, 8])
def test_variants_match_pillows_render(
    orientation: int,
    libvips_decodes: list[tuple[Size, Size]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg(_photo(4000, 3000), exif=exif)
    ours = render(data, VARIANT_SIZES)
    assert libvips_decodes == [((4000, 3000), (2880, 2160))]
    _without_libvips(monkeypatch)
    pillows = render(data, VARIANT_SIZES)
    for by_libvips, by_pillow in zip(ours, pillows, strict=True):
        assert (by_libvips.width, by_libvips.height) == (by_pillow.width, by_pillow.height)
        assert mean_abs_diff(decoded(by_libvips), decoded(by_pillow)) < SAME_PICTURE


def test_upright_photo_keeps_its_corners() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turned 90 degrees clockwise to view
    uhd = decoded(render(_jpeg(_photo(4000, 3000), exif=exif), [SIZES_BY_NAME["uhd"]])[0])
    assert uhd.size == (2160, 2880)
    red_corner = uhd.getpixel((uhd.width - 10, 10))
    blue_corner = uhd.getpixel((10, uhd.height - 10))
    assert isinstance(red_corner, tuple) and isinstance(blue_corner, tuple)
    assert red_corner[0] > 180 > red_corner[2]
    assert blue_corner[2] > 180 > blue_corner[0]


def test_embedded_profile_is_still_converted(
    libvips_decodes: list[tuple[Size, Size]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Image.open(CORPUS / "pillow-icc-adobergb.jpg") as source:
        profile = source.info["icc_profile"]
    # A mid green: Adobe RGB's is far more saturated than sRGB's same numbers.
    green = Image.new("RGB", (4000, 3000), (60, 160, 60))
    data = _jpeg(green, icc_profile=profile)
    ours = decoded(render(data, [SIZES_BY_NAME["uhd"]])[0])
    assert libvips_decodes == [((4000, 3000), (2880, 2160))]
    _without_libvips(monkeypatch)
    pillows = decoded(render(data, [SIZES_BY_NAME["uhd"]])[0])
    assert mean_abs_diff(ours, pillows) < SAME_PICTURE
    assert mean_abs_diff(ours, green.resize(ours.size)) > 10 * SAME_PICTURE


def test_truncated_big_jpeg_fails_permanently_with_the_reason() -> None:
    data = _jpeg(_photo(4000, 3000))
    with pytest.raises(PermanentError) as failed:
        render(data[: len(data) // 2], VARIANT_SIZES)
    assert failed.value.kind is FailureKind.CORRUPT
    assert str(failed.value) == "corrupt or truncated image data: premature end of JPEG image"
    assert failed.value.__cause__ is not None
