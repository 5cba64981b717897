"""Fixtures for the imaging core: corpus files rendered once per session, a libvips spy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from glowworm.sizes import ALL_SIZES
from processor.imaging import Rendition, large_jpeg, render
from processor.imaging.geometry import Size
from tests.processor.imaging.picture import corpus_bytes, decoded

Rendered = dict[str, Rendition]


@pytest.fixture(scope="session")
def rendered() -> Callable[[str], Rendered]:
    """Factory: a corpus file rendered to all five sizes, keyed by size name, cached."""
    cache: dict[str, Rendered] = {}

    def get(name: str) -> Rendered:
        if name not in cache:
            renditions = render(corpus_bytes(name), ALL_SIZES)
            cache[name] = {rendition.size: rendition for rendition in renditions}
        return cache[name]

    return get


@pytest.fixture(scope="session")
def picture(rendered: Callable[[str], Rendered]) -> Callable[[str, str], Image.Image]:
    """Factory: one derivative of a corpus file, decoded."""

    def get(name: str, size: str) -> Image.Image:
        return decoded(rendered(name)[size])

    return get


@pytest.fixture
def libvips_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Size, Size]]:
    """Every big JPEG libvips decodes during the test: (its stored size, the size made)."""
    calls: list[tuple[Size, Size]] = []
    decode_shrunk = large_jpeg.decode_shrunk

    def counting(data: bytes, size: Size, wanted: Size) -> Image.Image:
        calls.append((size, wanted))
        return decode_shrunk(data, size, wanted)

    monkeypatch.setattr(large_jpeg, "decode_shrunk", counting)
    return calls
