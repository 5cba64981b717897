"""A claim names its uploader only for the key it was signed for, with our key."""

from __future__ import annotations

from glowworm.upload_claims import owner_of, sign

KEY = bytes(range(32))
OBJECT = "uploads/7/0123abcd/cat.jpg"


def test_a_claim_names_its_uploader_for_its_own_key() -> None:
    assert owner_of(KEY, sign(KEY, 7, OBJECT), OBJECT) == 7


def test_a_claim_is_nothing_on_another_key_with_another_owner_or_another_signing_key() -> None:
    claim = sign(KEY, 7, OBJECT)
    assert owner_of(KEY, claim, "uploads/7/0123abcd/dog.jpg") is None
    assert owner_of(KEY, "8." + claim.split(".", 1)[1], OBJECT) is None
    assert owner_of(bytes(32), claim, OBJECT) is None
    for junk in (None, "", "7", "seven.abc", "7.", ".abc", "²." + "0" * 64, "9" * 5000 + ".a"):
        assert owner_of(KEY, junk, OBJECT) is None
