"""images.multipart_upload_id: the one multipart upload that may store an image's original

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 21:10:00

The Companion routes check it on every call, so an upload id works only with the
image row it was created for. Rows from before have none, so their multipart uploads
can no longer be continued through the API (the reconciler aborts them in a day).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("multipart_upload_id", sa.String(1024), nullable=True))


def downgrade() -> None:
    op.drop_column("images", "multipart_upload_id")
