"""meter driver, commissioning, last relay

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:58:33.315250
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("meters", sa.Column("last_relay", sa.String(length=8), nullable=True))
    op.add_column("meters", sa.Column("driver", sa.JSON(), nullable=True))
    op.add_column(
        "meters",
        sa.Column(
            "commissioning_status",
            sa.String(length=16),
            server_default="not_commissioned",
            nullable=False,
        ),
    )
    op.add_column(
        "meters",
        sa.Column(
            "commissioned_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("meters", sa.Column("commissioning_report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meters") as batch:
        for column in ("commissioning_report", "commissioned_at", "commissioning_status",
                       "driver", "last_relay"):  # fmt: skip
            batch.drop_column(column)
