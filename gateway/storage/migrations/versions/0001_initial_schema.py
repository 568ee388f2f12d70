"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:41:27.448067
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("minor_unit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opening_balance", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("balance", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column(
            "extra_kwh_per_month", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("cycle_start", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "cycle_consumed_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column(
            "cycle_exact_charge", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column("cycle_exact_tax", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("reading_id", sa.String(length=32), nullable=True),
        sa.Column("ts", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
    )
    op.create_index(op.f("ix_anomalies_meter_id"), "anomalies", ["meter_id"], unique=False)
    op.create_table(
        "tariff_versions",
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "effective_from", gateway.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tariff_id", "version", name=op.f("pk_tariff_versions")),
    )
    op.create_table(
        "account_tariffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column(
            "effective_from", gateway.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_tariffs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tariffs")),
        sa.UniqueConstraint("account_id", "effective_from", name="uq_account_tariffs_account_from"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("balance_before", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("balance_after", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=True),
        sa.Column("prev_reading_id", sa.String(length=32), nullable=True),
        sa.Column("reading_id", sa.String(length=32), nullable=True),
        sa.Column("prev_ts", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("prev_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("curr_ts", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("curr_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("energy_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("tariff_version", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("reverses_entry_id", sa.String(length=32), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ledger_entries_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("account_id", "sequence", name="uq_ledger_entries_account_sequence"),
    )
    op.create_index(
        "ix_ledger_entries_meter_effective",
        "ledger_entries",
        ["meter_id", "effective_at"],
        unique=False,
    )
    op.create_table(
        "meters",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("multiplier", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column(
            "register_modulus_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True
        ),
        sa.Column("max_power_kw", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("expected_interval_s", sa.Integer(), nullable=False),
        sa.Column("installed_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "install_reading_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True
        ),
        sa.Column("removed_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "removal_reading_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True
        ),
        sa.Column("relay", sa.String(length=8), nullable=False),
        sa.Column("last_reading_id", sa.String(length=32), nullable=True),
        sa.Column("last_ts", gateway.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_raw_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("last_offset_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("last_bands", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_meters_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
    )
    op.create_index(op.f("ix_meters_account_id"), "meters", ["account_id"], unique=False)
    op.create_table(
        "top_ups",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("amount", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_top_ups_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "reference", name=op.f("pk_top_ups")),
    )
    op.create_table(
        "meter_exchanges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.Column("at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_serial", sa.String(length=64), nullable=False),
        sa.Column(
            "removal_reading_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column("new_serial", sa.String(length=64), nullable=False),
        sa.Column(
            "opening_reading_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=False
        ),
        sa.Column("created_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_meter_exchanges_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_exchanges")),
    )
    op.create_index(
        op.f("ix_meter_exchanges_meter_id"), "meter_exchanges", ["meter_id"], unique=False
    )
    op.create_table(
        "readings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=64), nullable=False),
        sa.Column("ts", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", gateway.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("raw_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=False),
        sa.Column("bands_kwh", sa.JSON(), nullable=True),
        sa.Column("balance", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("relay", sa.String(length=8), nullable=True),
        sa.Column("continuous_kwh", gateway.storage.types.ExactDecimal(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_readings_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint("meter_id", "ts", name="uq_readings_meter_ts"),
    )
    append_only()


def downgrade() -> None:
    drop_append_only()
    op.drop_table("readings")
    op.drop_index(op.f("ix_meter_exchanges_meter_id"), table_name="meter_exchanges")
    op.drop_table("meter_exchanges")
    op.drop_table("top_ups")
    op.drop_index(op.f("ix_meters_account_id"), table_name="meters")
    op.drop_table("meters")
    op.drop_index("ix_ledger_entries_meter_effective", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("account_tariffs")
    op.drop_table("tariff_versions")
    op.drop_index(op.f("ix_anomalies_meter_id"), table_name="anomalies")
    op.drop_table("anomalies")
    op.drop_table("accounts")


APPEND_ONLY = "ledger entries are append-only: post a reversal or adjustment instead"


def append_only() -> None:
    """Refuse UPDATE and DELETE on ledger entries, in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$ BEGIN"
            f" RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries"
            " FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ledger_entries_no_{action.lower()} BEFORE {action} ON ledger_entries"
            f" BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def drop_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER ledger_entries_no_{action}")
