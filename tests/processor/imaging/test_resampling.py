"""shrink(): the same picture as a plain Pillow resize, for less time and memory."""

from __future__ import annotations

import io

from PIL import Image

from processor.imaging.resampling import HAMMING_ABOVE_PIXELS, shrink
from tests.processor.imaging.picture import corpus_bytes, largest_difference, mean_abs_diff


def _noise(size: tuple[int, int]) -> Image.Image:
    return Image.merge("RGB", [Image.effect_noise(size, 64) for _ in range(3)])


def test_same_size_is_returned_untouched() -> None:
    image = _noise((40, 30))
    assert shrink(image, (40, 30)) is image


def test_small_sources_match_a_lanczos_resize_with_reducing_gap() -> None:
    image = _noise((1000, 800))
    expected = image.resize((123, 98), Image.Resampling.LANCZOS, reducing_gap=2.0)
    assert largest_difference(shrink(image, (123, 98)), expected) == 0


def test_big_sources_are_resized_in_bands_without_seams() -> None:
    image = _noise((2400, 1800))
    assert image.width * image.height > HAMMING_ABOVE_PIXELS
    expected = image.resize((1000, 750), Image.Resampling.HAMMING)
    assert largest_difference(shrink(image, (1000, 750)), expected) <= 1


def test_big_sources_shrunk_far_are_reduced_first() -> None:
    image = _noise((2400, 1800))
    expected = image.resize((150, 113), Image.Resampling.LANCZOS, reducing_gap=2.0)
    assert largest_difference(shrink(image, (150, 113)), expected) <= 1


def test_exact_halves_look_like_lanczos() -> None:
    """A photo halved exactly (the 1080 px variant from the 2160 px one) is averaged in
    2x2 blocks: to the eye the same picture as a Lanczos resize."""
    with Image.open(io.BytesIO(corpus_bytes("big-6000x4000-orientation-6.jpg"))) as opened:
        opened.draft("RGB", (3000, 2000))
        photo = opened.convert("RGB")
    assert photo.size == (3000, 2000)
    halved = shrink(photo, (1500, 1000))
    assert halved.size == (1500, 1000)
    lanczos = photo.resize((1500, 1000), Image.Resampling.LANCZOS)
    assert mean_abs_diff(halved, lanczos) < 1.0
    assert largest_difference(halved, lanczos) < 64


def test_a_near_half_is_not_taken_for_one() -> None:
    image = _noise((1001, 800))
    expected = image.resize((500, 400), Image.Resampling.LANCZOS, reducing_gap=2.0)
    assert largest_difference(shrink(image, (500, 400)), expected) == 0
