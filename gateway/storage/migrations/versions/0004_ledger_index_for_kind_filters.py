"""ledger index for kind filters

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:53:08.947377
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_account_kind_sequence",
        "ledger_entries",
        ["account_id", "kind", "sequence"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_account_kind_sequence", table_name="ledger_entries")
