"""api_tokens.expires_at and revoked_at; web_sessions, the page cookie's opaque sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:20:00

Tokens from before never expire (expires_at stays empty) until they are revoked with
``glowworm token revoke``. Cookies from before held the raw token; they no longer sign
anyone in, and the pages sign in again with the token they keep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_tokens", sa.Column("revoked_at", sa.DateTime(timezone=True)))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "token_id",
            sa.Integer,
            sa.ForeignKey("api_tokens.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_sessions")
    op.drop_column("api_tokens", "revoked_at")
    op.drop_column("api_tokens", "expires_at")
