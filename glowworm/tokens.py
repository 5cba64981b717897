"""API tokens and page sessions: issued once in plain text, stored only as SHA-256 hashes.

A token works until it expires (``DEFAULT_LIFETIME`` after it is made, unless made
with another lifetime or none) or is revoked (``glowworm token revoke``). A page session
(the cookie ``POST /api/session`` sets) holds a secret of its own, never the token: it
works while its token works, until it expires, and until the browser signs out.

Every lookup here asks the database, so a revoked token stops at once wherever it is
checked this way; the upload route's token cache keeps one at most
``token_cache_seconds`` (5 s at most), and open WebSockets are checked as often.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from glowworm.models import ApiToken, User, WebSession

# Prefixes that make a leaked token or cookie easy to recognise in logs and secret scanners.
TOKEN_PREFIX = "gw_"  # noqa: S105 - a prefix, not a secret
SESSION_PREFIX = "gws_"
# How long a token works when it is made without a lifetime of its own.
DEFAULT_LIFETIME = timedelta(days=90)
# How long a page session lasts (the pages sign in again on every load, renewing it).
SESSION_LIFETIME = timedelta(days=30)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    # This process's clock, not the database's: the demo's SQLite has no time arithmetic.
    return datetime.now(UTC)


def _usable() -> ColumnElement[bool]:
    """The tokens that work now: not revoked, not expired."""
    return ApiToken.revoked_at.is_(None) & or_(
        ApiToken.expires_at.is_(None), ApiToken.expires_at > _now()
    )


def issue_token(
    session: Session, name: str, *, admin: bool = False, lifetime: timedelta | None = None
) -> str:
    """Make (or reuse) the user ``name`` and a new token for it; returns the token once.

    The token works for ``lifetime`` (``DEFAULT_LIFETIME`` when None; ``timedelta(0)``
    for a token that never expires).
    """
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = User(name=name, is_admin=admin)
        session.add(user)
        session.flush()
    elif admin:
        user.is_admin = True
    lifetime = DEFAULT_LIFETIME if lifetime is None else lifetime
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=hash_token(token),
            expires_at=_now() + lifetime if lifetime else None,
        )
    )
    return token


def token_for(session: Session, token: str) -> ApiToken | None:
    """The usable token row a presented token is, with its user, or None."""
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), _usable())
    ).first()


def user_for_token(session: Session, token: str) -> User | None:
    """The user a presented, usable token belongs to, or None."""
    row = token_for(session, token)
    return row.user if row else None


@dataclass(frozen=True)
class Caller:
    """Who a token belongs to, as a route that needs no User row sees it."""

    id: int
    is_admin: bool
    # The user's own storage quota (None: the deployment's default).
    quota_bytes: int | None = None
    quota_images: int | None = None


def caller_for_token_hash(session: Session, token_hash: str) -> Caller | None:
    """The caller a usable token's hash belongs to, in one query, or None."""
    row = session.execute(
        select(User.id, User.is_admin, User.quota_bytes, User.quota_images)
        .join(ApiToken)
        .where(ApiToken.token_hash == token_hash, _usable())
    ).first()
    return Caller(*row) if row else None


def usable_token_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` whose tokens still work (for sockets signed in with them)."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(ApiToken.id).where(ApiToken.id.in_(wanted), _usable())))


def revoke(session: Session, *, ids: Iterable[int] = (), user: str | None = None) -> list[int]:
    """Revoke the tokens ``ids``, or every token of ``user``; the ids revoked now."""
    chosen = ApiToken.id.in_(set(ids))
    if user is not None:
        chosen = ApiToken.user_id.in_(select(User.id).where(User.name == user))
    revoked = session.scalars(
        update(ApiToken)
        .where(chosen, ApiToken.revoked_at.is_(None))
        .values(revoked_at=_now())
        .returning(ApiToken.id)
    ).all()
    return sorted(revoked)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user: str
    admin: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def list_tokens(session: Session, user: str | None = None) -> list[TokenInfo]:
    """Every token (or ``user``'s), oldest first; the secrets themselves are not kept."""
    query = select(ApiToken, User).join(User).order_by(ApiToken.id)
    if user is not None:
        query = query.where(User.name == user)
    return [
        TokenInfo(t.id, u.name, u.is_admin, t.created_at, t.expires_at, t.revoked_at)
        for t, u in session.execute(query).tuples()
    ]


def open_web_session(session: Session, token: ApiToken) -> str:
    """A new page session for ``token``; returns the cookie's secret once."""
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_id=token.id,
            secret_hash=hash_token(secret),
            expires_at=_now() + SESSION_LIFETIME,
        )
    )
    return secret


def user_for_web_session(session: Session, secret: str) -> User | None:
    """The user of a live page session (and a usable token), or None."""
    row = session.execute(
        select(ApiToken)
        .join(WebSession, WebSession.token_id == ApiToken.id)
        .where(
            WebSession.secret_hash == hash_token(secret),
            WebSession.expires_at > _now(),
            _usable(),
        )
    ).scalar_one_or_none()
    return row.user if row else None


def close_web_session(session: Session, secret: str) -> None:
    """Sign a browser out: its cookie no longer works, even if it was copied."""
    session.execute(delete(WebSession).where(WebSession.secret_hash == hash_token(secret)))
