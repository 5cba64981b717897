"""ETags: one per body, and If-None-Match compared as RFC 9110 asks for a GET."""

from __future__ import annotations

import pytest

from upload_service.etags import etag_of, matches

TAG = etag_of(b'{"id":7}')


def test_a_tag_is_quoted_and_follows_the_body() -> None:
    assert TAG.startswith('"') and TAG.endswith('"') and len(TAG) == 34
    assert etag_of(b'{"id":7}') == TAG
    assert etag_of(b'{"id":8}') != TAG


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        (TAG, True),
        (f"W/{TAG}", True),
        (f'"a", {TAG} ,"b"', True),
        ("*", True),
        ('"a", "b"', False),
        (TAG[1:-1], False),
    ],
)
def test_if_none_match_names_the_tag_weakly(header: str | None, expected: bool) -> None:
    assert matches(header, TAG) is expected
