"""signing_keys, with the key of upload claims

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 01:00:00

A POST policy from ``GET /s3/params`` makes no row; the object carries a claim of its
uploader, signed with this key, and the processor that registers it checks the claim
(glowworm/upload_claims.py). The key is made here, random, once per database.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.bulk_insert(table, [{"name": "upload-claims", "secret": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("signing_keys")
