"""Fixtures for the imaging core: corpus files rendered once per session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from glowworm.sizes import ALL_SIZES
from processor.imaging import Rendition, render
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
