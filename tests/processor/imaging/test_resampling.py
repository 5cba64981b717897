"""shrink(): the same picture as a plain Pillow resize, for less time and memory."""

from __future__ import annotations

from PIL import Image

from processor.imaging.resampling import HAMMING_ABOVE_PIXELS, shrink
from tests.processor.imaging.picture import largest_difference


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
