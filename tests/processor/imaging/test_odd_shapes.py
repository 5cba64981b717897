"""Every odd real-world shape (tests/odd_shapes.py) ends as its table says, quickly."""

from __future__ import annotations

import time

import pytest

from glowworm.errors import PermanentError
from glowworm.sizes import ALL_SIZES
from processor.imaging import ImageInfo, Rendition, probe, render
from tests.odd_shapes import SHAPES, Shape
from tests.processor.imaging.picture import decoded, expected_size

# Seconds one shape may take from bytes to every derivative; each is a small file.
BOUND_SECONDS = 5.0


def _as_a_job_does(data: bytes) -> tuple[ImageInfo, list[Rendition]]:
    """Probe, then render every size: a thumbnail job's imaging, then a variant job's."""
    return probe(data), render(data, ALL_SIZES)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.name)
def test_each_shape_completes_or_fails_with_a_reason(shape: Shape) -> None:
    data = shape.build()
    want = shape.outcome
    started = time.monotonic()
    if want.status == "failed":
        with pytest.raises(PermanentError) as failure:
            _as_a_job_does(data)
        assert failure.value.kind.value == want.kind
        assert want.reason is not None
        assert failure.value.message.startswith(want.reason), failure.value.message
    else:
        info, renditions = _as_a_job_does(data)
        assert want.size is not None
        assert (info.width, info.height) == want.size
        assert info.orientation == want.orientation
        assert (info.camera_make, info.camera_model) == want.camera
        for spec, rendition in zip(ALL_SIZES, renditions, strict=True):
            assert decoded(rendition).size == expected_size(want.size, spec), spec.name
        warnings = {info.warning, *(rendition.warning for rendition in renditions)}
        if want.warning is None:
            assert warnings == {None}
        else:
            assert len(warnings) == 1, warnings
            assert str(info.warning).startswith(want.warning), info.warning
    assert time.monotonic() - started < BOUND_SECONDS


def test_a_zero_date_reads_as_unknown() -> None:
    zero_date = next(shape for shape in SHAPES if shape.name == "zero-date")
    assert probe(zero_date.build()).taken_at is None
