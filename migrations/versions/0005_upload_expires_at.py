"""images.upload_expires_at: until when an upload can still store its original

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 16:30:00

Rows from before have none; the reconciler counts their upload as usable for the
longest a presigned URL lives (7 days) from the row's creation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "images", sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("images", "upload_expires_at")
