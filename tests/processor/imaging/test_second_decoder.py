"""What Pillow refuses: libvips reads what a viewer shows, and the rest fails in words."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from glowworm.errors import FailureKind, PermanentError
from glowworm.sizes import ALL_SIZES
from processor.imaging import probe, render
from tests.odd_shapes import float_rgb_tiff, lab_tiff, tiff_without_dimensions, truncated_jpeg
from tests.processor.imaging.picture import corpus_bytes, decoded

WARNING = (
    "decoded with recoverable errors: the first decoder refused it "
    "(not a recognised image format); libvips read it"
)


@pytest.mark.parametrize("build", [float_rgb_tiff, lab_tiff])
def test_a_tiff_only_libvips_reads_completes_with_the_warning(build: Callable[[], bytes]) -> None:
    data = build()
    info = probe(data)
    assert (info.format, info.mime_type, info.width, info.height) == ("TIFF", "image/tiff", 64, 48)
    assert info.warning == WARNING
    renditions = render(data, ALL_SIZES)
    assert [decoded(r).size for r in renditions] == [(64, 48)] * len(ALL_SIZES)
    assert {r.warning for r in renditions} == {WARNING}
    assert all(decoded(r).mode == "RGB" for r in renditions)


@pytest.mark.parametrize(
    ("data", "kind", "reason"),
    [
        (tiff_without_dimensions(), FailureKind.NOT_AN_IMAGE, "not a recognised image format"),
        (truncated_jpeg(), FailureKind.CORRUPT, "corrupt or truncated image data: image file is"),
        (corpus_bytes("pillow-truncated.jpg"), FailureKind.CORRUPT, "corrupt or truncated"),
        (corpus_bytes("fake.jpg"), FailureKind.NOT_AN_IMAGE, "not a recognised image format"),
    ],
)
def test_what_neither_decoder_reads_fails_with_the_first_reason(
    data: bytes, kind: FailureKind, reason: str
) -> None:
    with pytest.raises(PermanentError) as failure:
        render(data, ALL_SIZES)
    assert failure.value.kind is kind
    assert failure.value.message.startswith(reason), failure.value.message
    # The reason is the first decoder's, chained to its own exception.
    assert not isinstance(failure.value.__cause__, PermanentError)
