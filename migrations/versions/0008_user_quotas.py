"""users.quota_bytes, users.quota_images: a user's own storage quota

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:30:00

None (every existing user) means the deployment's default (GLOWWORM_QUOTA_BYTES and
GLOWWORM_QUOTA_IMAGES, unlimited unless set); `glowworm user quota` sets them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("quota_bytes", sa.BigInteger, nullable=True))
    op.add_column("users", sa.Column("quota_images", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("users", "quota_images")
    op.drop_column("users", "quota_bytes")
