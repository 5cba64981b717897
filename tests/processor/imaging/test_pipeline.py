"""render(): what a user sees in the derivatives of every corpus file."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps, ImageStat

from glowworm.errors import FailureKind, PermanentError
from glowworm.sizes import ALL_SIZES, SIZES_BY_NAME, THUMBNAIL_SIZES, VARIANT_SIZES, SizeSpec
from processor.imaging import Limits, Rendition, large_jpeg, render
from processor.imaging.geometry import Size
from processor.imaging.pipeline import PIPELINE
from tests.processor.imaging.picture import (
    CORPUS,
    UNREADABLE,
    UPRIGHT_SIZES,
    corpus_bytes,
    dark_rows,
    decoded,
    expected_size,
    gray_row,
    mean_abs_diff,
    mean_colour,
    red_pixels,
    rgb,
)

Rendered = Callable[[str], dict[str, Rendition]]
Picture = Callable[[str, str], Image.Image]

# Mean absolute difference (0..255) under which two renders show the same upright scene.
# Correctly turned orientation files land within ~2.5 of the _1 file (they differ in the
# printed digit and JPEG noise); a mirrored or upside-down one is 40+ away.
SAME_SCENE = 8.0

WRONG_TURNS = (
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_180,
)


def test_corpus_lists_agree_with_the_files() -> None:
    on_disk = {path.name for path in CORPUS.iterdir() if path.name != "MANIFEST.md"}
    assert on_disk == set(UPRIGHT_SIZES) | UNREADABLE


def test_pipeline_order_keeps_the_expensive_work_small() -> None:
    names = [step.__name__ for step in PIPELINE]
    position = names.index
    # libvips takes big JPEGs before draft(), which works only before the decode; alpha
    # and palettes must be gone before resampling; turning and colour conversion touch
    # the fewest pixels after the resize.
    assert position("shrink_large_jpeg") < position("shrink_on_load") < position("decode")
    assert position("decode") < position("to_working_mode")
    assert position("to_working_mode") < position("fit_largest") < position("orient")
    assert position("fit_largest") < position("to_srgb")
    assert names.count("orient") == 1


@pytest.mark.parametrize("name", sorted(UPRIGHT_SIZES))
def test_every_readable_file_renders_every_size(name: str, rendered: Rendered) -> None:
    renditions = rendered(name)
    assert list(renditions) == [spec.name for spec in ALL_SIZES]
    for spec in ALL_SIZES:
        rendition = renditions[spec.name]
        image = decoded(rendition)
        want = expected_size(UPRIGHT_SIZES[name], spec)
        assert (rendition.width, rendition.height) == want, spec.name
        assert image.size == want, spec.name
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        assert rendition.content_type == "image/jpeg"
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(image.info)


def test_derivatives_come_in_the_order_asked_for() -> None:
    sizes = [SIZES_BY_NAME["medium"], SIZES_BY_NAME["uhd"], SIZES_BY_NAME["small"]]
    renditions = render(corpus_bytes("pillow-stereo.mpo"), sizes)
    assert [r.size for r in renditions] == ["medium", "uhd", "small"]


def test_each_job_gets_only_its_own_sizes() -> None:
    data = corpus_bytes("orientation-portrait-1.jpg")
    assert [r.size for r in render(data, THUMBNAIL_SIZES)] == ["small", "medium", "large"]
    assert [r.size for r in render(data, VARIANT_SIZES)] == ["fhd", "uhd"]


@pytest.mark.parametrize(
    ("sizes", "decode"),
    [
        (THUMBNAIL_SIZES, ("Pillow", (750, 500))),
        (VARIANT_SIZES, ("libvips", (6000, 4000))),
        (ALL_SIZES, ("libvips", (6000, 4000))),
    ],
)
def test_one_decode_shrunk_on_load_no_smaller_than_the_largest_box(
    sizes: tuple[SizeSpec, ...],
    decode: tuple[str, tuple[int, int]],
    libvips_decodes: list[tuple[Size, Size]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes: list[tuple[str, tuple[int, int]]] = []
    load = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> Any:
        if self.tile:
            decodes.append(("Pillow", self.size))
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    render(corpus_bytes("big-6000x4000-orientation-6.jpg"), sizes)
    for size, wanted in libvips_decodes:
        factor = large_jpeg.load_shrink(size, wanted)
        decodes.append(("libvips", (size[0] // factor, size[1] // factor)))
    # 1/8 scale still covers the 600 px box (stored sideways: 600x400); 1/2 would not
    # cover the 2160x3240 UHD derivative, which libvips shrinks to in the same pass.
    assert decodes == [decode]


def test_a_small_image_is_never_upscaled(rendered: Rendered) -> None:
    renditions = rendered("pillow-rgb.bmp")
    assert {(r.width, r.height) for r in renditions.values()} == {(128, 128)}


def test_metadata_is_stripped_including_gps_xmp_and_comments() -> None:
    source = Image.open(CORPUS / "orientation-landscape-1.jpg")
    exif = Image.Exif()
    exif[0x010F] = "Leaky"  # Make
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", exif=exif, comment=b"secret", xmp=b"<x:xmpmeta>secret</x>")
    with Image.open(io.BytesIO(buffer.getvalue())) as tagged:
        assert tagged.getexif().get_ifd(0x8825)  # the input really carries GPS
    for rendition in render(buffer.getvalue(), ALL_SIZES):
        image = decoded(rendition)
        assert len(image.getexif()) == 0
        assert not image.getexif().get_ifd(0x8825)
        assert b"secret" not in rendition.data
        assert b"Leaky" not in rendition.data


def test_quality_sets_the_jpeg_quality() -> None:
    data = corpus_bytes("orientation-landscape-1.jpg")
    low = render(data, [SIZES_BY_NAME["large"]], quality=40)[0]
    high = render(data, [SIZES_BY_NAME["large"]], quality=95)[0]
    assert len(low.data) < len(high.data) / 2


@pytest.mark.parametrize("quality", [0, 101])
def test_quality_out_of_range_is_a_programming_error(quality: int) -> None:
    with pytest.raises(ValueError, match="quality"):
        render(corpus_bytes("pillow-rgb.bmp"), ALL_SIZES, quality=quality)


def test_no_sizes_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no sizes"):
        render(corpus_bytes("pillow-rgb.bmp"), [])


# --- orientation ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
@pytest.mark.parametrize("orientation", [0, 2, 3, 4, 5, 6, 7, 8])
def test_orientation_files_come_out_upright(shape: str, orientation: int, picture: Picture) -> None:
    reference = picture(f"orientation-{shape}-1.jpg", "large")
    for size in ("small", "large"):
        image = picture(f"orientation-{shape}-{orientation}.jpg", size)
        assert (image.width > image.height) == (shape == "landscape")
        assert mean_abs_diff(image, reference.resize(image.size)) < SAME_SCENE


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_same_scene_threshold_catches_a_wrong_turn(shape: str, picture: Picture) -> None:
    upright = picture(f"orientation-{shape}-1.jpg", "large")
    for turn in WRONG_TURNS:
        assert mean_abs_diff(upright.transpose(turn), upright) > 4 * SAME_SCENE


def test_square_image_content_is_rotated(picture: Picture) -> None:
    with Image.open(CORPUS / "pillow-orientation-6.jpg") as source:
        stored = source.convert("RGB")
        upright = ImageOps.exif_transpose(source).convert("RGB")
    image = picture("pillow-orientation-6.jpg", "small")
    assert image.size == (128, 128)
    assert mean_abs_diff(image, upright) < SAME_SCENE
    assert mean_abs_diff(image, stored) > 2 * SAME_SCENE


def test_two_by_one_pixel_image_turns_to_one_by_two(rendered: Rendered) -> None:
    assert {(r.width, r.height) for r in rendered("pillow-orientation-8-2x1.jpg").values()} == {
        (1, 2)
    }


def test_big_sideways_photo_comes_out_portrait_with_its_arrow_on_top(picture: Picture) -> None:
    assert picture("big-6000x4000-orientation-6.jpg", "uhd").size == (2160, 3240)
    image = picture("big-6000x4000-orientation-6.jpg", "large")
    assert image.size == (400, 600)
    top, bottom = _red_top_and_bottom(image)
    assert top > 1000
    assert bottom == 0


def test_red_arrow_check_fails_upside_down(picture: Picture) -> None:
    image = picture("big-6000x4000-orientation-6.jpg", "large")
    top, bottom = _red_top_and_bottom(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))
    assert top == 0
    assert bottom > 1000


def _red_top_and_bottom(image: Image.Image) -> tuple[int, int]:
    quarter = image.height // 4
    top = red_pixels(image.crop((0, 0, image.width, quarter)))
    bottom = red_pixels(image.crop((0, image.height - quarter, image.width, image.height)))
    return top, bottom


def test_heic_is_portrait_and_its_arrow_points_up(picture: Picture) -> None:
    assert picture("heic-iphone8plus-rotated.heic", "uhd").size == (2160, 2880)
    image = picture("heic-iphone8plus-rotated.heic", "large")
    assert image.size == (450, 600)
    assert _arrow_points_up(image)


def test_arrow_check_fails_when_turned_twice(picture: Picture) -> None:
    image = picture("heic-iphone8plus-rotated.heic", "large")
    assert not _arrow_points_up(image.transpose(Image.Transpose.ROTATE_180))
    assert not _arrow_points_up(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))


def _arrow_points_up(image: Image.Image) -> bool:
    """The hand-drawn arrow: its head's wide base is the widest ink row, above the middle,
    and the first ink from the top is the narrow tip near the centre line."""
    spans = dark_rows(image)
    widest = max(range(len(spans)), key=spans.__getitem__)
    tip = next(y for y, span in enumerate(spans) if span)
    return widest < image.height / 2 and spans[tip] < image.width / 10


# --- colour --------------------------------------------------------------------------


def test_cmyk_is_not_inverted(picture: Picture) -> None:
    image = picture("pillow-cmyk.jpg", "small")
    with Image.open(CORPUS / "pillow-cmyk.jpg") as source:
        reference = source.convert("RGB")
    red, green, blue = rgb(image, (2, 2))
    assert red > 200 and green < 60 and blue < 60  # the top-left corner is red
    assert max(rgb(image, (97, 97))) < 40
    # Red text on black loses some crispness to JPEG's halved chroma; inverted is 200 off.
    assert mean_abs_diff(image, reference) < 12
    assert mean_abs_diff(image, ImageOps.invert(reference)) > 100


@pytest.mark.parametrize("name", ["pillow-rgba.png", "pillow-palette-trns.png"])
def test_transparency_is_flattened_onto_white(name: str, picture: Picture) -> None:
    image = picture(name, "large")
    with Image.open(CORPUS / name) as source:
        alpha = source.convert("RGBA").getchannel("A")
    assert rgb(alpha, (0, 0)) == (0, 0, 0)  # the corners are see-through in the source
    width, height = image.size
    for corner in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        assert min(rgb(image, corner)) > 245


def test_16_bit_gradient_stays_a_smooth_gradient(picture: Picture) -> None:
    image = picture("gradient-16bit-gray.png", "large")
    assert image.size == (256, 64)
    row = gray_row(image, 32)
    assert row[0] < 8
    assert row[-1] > 247
    assert abs(row[128] - 128) < 8
    assert all(b >= a - 3 for a, b in itertools.pairwise(row))


def test_16_bit_file_with_8_bit_values_stays_visible(picture: Picture) -> None:
    image = picture("pillow-16bit-gray.png", "large")
    with Image.open(CORPUS / "pillow-16bit-gray.png") as source:
        clipped = source.convert("L")  # Pillow's own (clipping) view: the visible picture
    assert mean_colour(image)[0] > 60
    assert mean_abs_diff(image, clipped) < 5


def test_adobe_rgb_is_converted_to_srgb(picture: Picture) -> None:
    image = picture("pillow-icc-adobergb.jpg", "large")
    with Image.open(CORPUS / "pillow-icc-adobergb.jpg") as source:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(source.info["icc_profile"]))
        pixels = source.convert("RGB").resize(image.size, Image.Resampling.LANCZOS)
    converted = ImageCms.profileToProfile(pixels, profile, ImageCms.createProfile("sRGB"))
    assert converted is not None
    assert mean_abs_diff(image, converted) < mean_abs_diff(image, pixels)
    assert _saturation(image) > _saturation(pixels)


def test_wide_gamut_colour_becomes_more_saturated_in_srgb() -> None:
    with Image.open(CORPUS / "pillow-icc-adobergb.jpg") as source:
        adobe_rgb = source.info["icc_profile"]
    patch = Image.new("RGB", (64, 64), (170, 110, 70))
    buffer = io.BytesIO()
    patch.save(buffer, "JPEG", quality=95, icc_profile=adobe_rgb)
    image = decoded(render(buffer.getvalue(), [SIZES_BY_NAME["small"]])[0])
    red, _, blue = mean_colour(image)
    assert red - blue > (170 - 70) + 10


def _saturation(image: Image.Image) -> float:
    """Mean HSV saturation: 0 for gray, higher for vivid colour."""
    return float(ImageStat.Stat(image.convert("HSV").getchannel("S")).mean[0])


def test_srgb_profile_is_kept_as_is(picture: Picture) -> None:
    image = picture("pillow-icc-srgb.jpg", "medium")
    with Image.open(CORPUS / "pillow-icc-srgb.jpg") as source:
        reference = source.convert("RGB")
    assert mean_abs_diff(image, reference) < 6  # JPEG re-encoding noise only


@pytest.mark.parametrize(
    ("name", "later_frame"),
    [("pillow-animated.gif", 15), ("pillow-stereo.mpo", 1), ("pillow-animated.webp", None)],
)
def test_multi_frame_files_render_their_first_frame(
    name: str, later_frame: int | None, picture: Picture
) -> None:
    image = picture(name, "uhd")
    with Image.open(CORPUS / name) as source:
        first = _on_white(source)
        if later_frame is not None:  # this WebP's frames barely differ
            source.seek(later_frame)
            assert mean_abs_diff(image, _on_white(source)) > 3 * SAME_SCENE / 2
    assert mean_abs_diff(image, first) < SAME_SCENE * 3 / 4


def _on_white(frame: Image.Image) -> Image.Image:
    rgba = frame.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


# --- failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("empty.jpg", FailureKind.EMPTY, "empty file (0 bytes)"),
        ("fake.jpg", FailureKind.NOT_AN_IMAGE, "not a recognised image format"),
        ("image.svg", FailureKind.UNSUPPORTED_FORMAT, "SVG is a vector format"),
        ("pillow-bomb.gif", FailureKind.DECOMPRESSION_BOMB, "pixels exceeds the limit of"),
        ("pillow-bomb.ico", FailureKind.DECOMPRESSION_BOMB, "pixels exceeds the limit of"),
        (
            "bomb-30000x30000.png",
            FailureKind.DECOMPRESSION_BOMB,
            "900,000,000 pixels exceeds the limit of 100,000,000 pixels",
        ),
        ("pillow-truncated.jpg", FailureKind.CORRUPT, "corrupt or truncated image data"),
    ],
)
def test_unreadable_files_fail_permanently_with_the_reason(
    name: str, kind: FailureKind, reason: str
) -> None:
    with pytest.raises(PermanentError) as failure:
        render(corpus_bytes(name), ALL_SIZES)
    assert failure.value.kind is kind
    assert reason in str(failure.value)


@pytest.mark.parametrize("name", ["fake.jpg", "pillow-bomb.gif", "pillow-truncated.jpg"])
def test_library_errors_are_chained_not_leaked(name: str) -> None:
    with pytest.raises(PermanentError) as failure:
        render(corpus_bytes(name), ALL_SIZES)
    cause = failure.value.__cause__
    assert isinstance(cause, Exception)
    assert not isinstance(cause, PermanentError)


def test_byte_limit_rejects_a_normal_image() -> None:
    with pytest.raises(PermanentError) as failure:
        render(
            corpus_bytes("orientation-landscape-1.jpg"), ALL_SIZES, limits=Limits(max_bytes=1000)
        )
    assert failure.value.kind is FailureKind.TOO_LARGE
    assert "347,327 bytes exceeds the limit of 1,000 bytes" in str(failure.value)


def test_pixel_limit_rejects_a_normal_image() -> None:
    with pytest.raises(PermanentError) as failure:
        render(
            corpus_bytes("orientation-landscape-1.jpg"),
            ALL_SIZES,
            limits=Limits(max_pixels=1_000_000),
        )
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB
    assert "2,160,000 pixels exceeds the limit of 1,000,000 pixels" in str(failure.value)


def test_our_pixel_limit_holds_when_pillows_is_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(PermanentError) as failure:
        render(corpus_bytes("bomb-30000x30000.png"), ALL_SIZES)
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB


def test_pillows_bomb_warning_becomes_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1800x1200 is between Pillow's lowered limit and twice it: Pillow only warns.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_500_000)
    with pytest.raises(PermanentError) as failure:
        render(corpus_bytes("orientation-landscape-1.jpg"), ALL_SIZES)
    assert failure.value.kind is FailureKind.DECOMPRESSION_BOMB
    assert "2,160,000 pixels exceeds the limit of 1,500,000 pixels" in str(failure.value)


@pytest.mark.parametrize(
    "name",
    [
        "orientation-landscape-6.jpg",
        "pillow-progressive.jpg",
        "pillow-rgba.png",
        "pillow-animated.gif",
        "pillow-animated.webp",
        "pillow-rgb.tif",
        "pillow-rgb.bmp",
        "pillow-rgb.avif",
        "pillow-stereo.mpo",
    ],
)
def test_damaged_files_only_ever_fail_permanently(name: str) -> None:
    data = corpus_bytes(name)
    damaged = [data[: len(data) * percent // 100] for percent in (1, 10, 30, 60, 90)]
    damaged += [data[:40] + bytes(b ^ 0x5A for b in data[40:200]) + data[200:]]
    failed = 0
    for variant in damaged:
        try:
            render(variant, THUMBNAIL_SIZES)
        except PermanentError:
            failed += 1
    assert failed >= 1  # a hundredth of a file is never enough
