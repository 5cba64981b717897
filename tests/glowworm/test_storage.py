from __future__ import annotations

import pytest

from glowworm.storage import clean_filename, original_key


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("photo.jpg", "photo.jpg"),
        ("C:\\Users\\me\\IMG 1.jpg", "IMG 1.jpg"),
        ("../../etc/passwd", "passwd"),
        ("tab\there.jpg", "tab_here.jpg"),
        ("café ✓.jpg", "café ✓.jpg"),
    ],
)
def test_file_names_lose_paths_and_control_characters(given: str, kept: str) -> None:
    assert clean_filename(given) == kept


def test_each_upload_gets_its_own_key() -> None:
    first, second = original_key(7, "a.jpg"), original_key(7, "a.jpg")
    assert first != second
    assert first.startswith("uploads/7/") and first.endswith("/a.jpg")
