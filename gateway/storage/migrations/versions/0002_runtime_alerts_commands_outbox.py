"""runtime alerts commands outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:23:29.684908
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("balance", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "acknowledged_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_account_id"), "alerts", ["account_id"], unique=False)
    op.create_table(
        "meter_commands",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "next_attempt_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("confirmed_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_commands")),
    )
    op.create_index(
        op.f("ix_meter_commands_meter_id"), "meter_commands", ["meter_id"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "next_attempt_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["delivered_at", "next_attempt_at"], unique=False
    )
    op.create_table(
        "account_controls",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("alert_levels", sa.JSON(), nullable=True),
        sa.Column("alert_state", sa.JSON(), nullable=True),
        sa.Column(
            "emergency_credit", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column("debt", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("updated_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_controls_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_controls")),
    )
    op.create_table(
        "standing_charge_days",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_standing_charge_days_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_standing_charge_days")),
    )


def downgrade() -> None:
    op.drop_table("standing_charge_days")
    op.drop_table("account_controls")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_meter_commands_meter_id"), table_name="meter_commands")
    op.drop_table("meter_commands")
    op.drop_index(op.f("ix_alerts_account_id"), table_name="alerts")
    op.drop_table("alerts")
