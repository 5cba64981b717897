"""Upload claims: who a POST policy was signed for, carried by the object itself.

``GET /s3/params`` (Uppy's Companion route for a small file) changes nothing: it makes
no image row. The POST policy it signs fixes the key, ``uploads/{user_id}/...``, and one
metadata field, ``x-amz-meta-glowworm-claim``: the user's id and an HMAC of id and key
with a key only the deployables know (the ``signing_keys`` row, made by a migration).
When the object lands, the processor registering it gives it to the claimed user if the
claim verifies, and to the default owner of S3-tool uploads otherwise. Whoever can write
to the bucket can copy a claim, but only onto the same key, which they could overwrite
anyway; a claim never moves an image to another user's account.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from glowworm.models import SigningKey

# The user metadata name (x-amz-meta-glowworm-claim) and the signing key's row.
METADATA_NAME = "glowworm-claim"
KEY_NAME = "upload-claims"


def signing_key(session: Session) -> bytes:
    """The claims' key, from the database."""
    secret = session.scalars(select(SigningKey.secret).where(SigningKey.name == KEY_NAME)).one()
    return bytes.fromhex(secret)


class SigningKeyCache:
    """The key, read on first use and kept: a deployable starts while the database is
    down, and the key never changes."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    def get(self, session: Session) -> bytes:
        if self._key is None:
            self._key = signing_key(session)
        return self._key


def _mac(key: bytes, owner_id: int, object_key: str) -> str:
    return hmac.new(key, f"{owner_id}\n{object_key}".encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, owner_id: int, object_key: str) -> str:
    """The claim that ``object_key`` is an upload of ``owner_id``'s."""
    return f"{owner_id}.{_mac(key, owner_id, object_key)}"


def owner_of(key: bytes, claim: str | None, object_key: str) -> int | None:
    """The user ``claim`` names for ``object_key``, if it is one we signed; else None."""
    if not claim:
        return None
    owner, _, mac = claim.partition(".")
    if not (owner.isascii() and owner.isdigit() and len(owner) <= 10) or not hmac.compare_digest(
        mac, _mac(key, int(owner), object_key)
    ):
        return None
    return int(owner)
