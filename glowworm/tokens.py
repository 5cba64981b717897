"""API tokens: issued once in plain text, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from glowworm.models import ApiToken, User

# Prefix that makes a leaked token easy to recognise in logs and secret scanners.
TOKEN_PREFIX = "gw_"  # noqa: S105 - a prefix, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, name: str, *, admin: bool = False) -> str:
    """Make (or reuse) the user ``name`` and a new token for it; returns the token once."""
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = User(name=name, is_admin=admin)
        session.add(user)
        session.flush()
    elif admin:
        user.is_admin = True
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token)))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user a presented token belongs to, or None."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    return row.user if row else None


@dataclass(frozen=True)
class Caller:
    """Who a token belongs to, as a route that needs no User row sees it."""

    id: int
    is_admin: bool


def caller_for_token_hash(session: Session, token_hash: str) -> Caller | None:
    """The caller a token's hash belongs to, in one query, or None."""
    row = session.execute(
        select(User.id, User.is_admin).join(ApiToken).where(ApiToken.token_hash == token_hash)
    ).first()
    return Caller(row.id, row.is_admin) if row else None
