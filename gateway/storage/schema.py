"""The tables. Ledger entries are append-only: triggers refuse UPDATE and DELETE."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.storage.types import ExactDecimal, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tariff_versions = Table(
    "tariff_versions",
    metadata,
    Column("tariff_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("document", JSON, nullable=False),  # the validated tariff file, as given
    Column("created_at", UTCDateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("minor_unit", Integer, nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("opening_balance", ExactDecimal, nullable=False),
    Column("balance", ExactDecimal, nullable=False),
    Column("extra_kwh_per_month", ExactDecimal, nullable=False),
    Column("last_sequence", Integer, nullable=False, default=0),
    Column("last_hash", String(64), nullable=False),
    # The billing cycle so far (tier consumption, exact running charge for the rounding carry).
    Column("cycle_start", UTCDateTime, nullable=True),
    Column("cycle_consumed_kwh", ExactDecimal, nullable=False),
    Column("cycle_exact_charge", ExactDecimal, nullable=False),
    Column("cycle_exact_tax", ExactDecimal, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

account_tariffs = Table(
    "account_tariffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("tariff_id", String(64), nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "effective_from", name="uq_account_tariffs_account_from"),
)

meters = Table(
    "meters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("serial", String(64), nullable=False),
    Column("multiplier", ExactDecimal, nullable=False),  # CT ratio x meter constant
    Column("register_modulus_kwh", ExactDecimal, nullable=True),  # where the register wraps
    Column("max_power_kw", ExactDecimal, nullable=False),
    Column("expected_interval_s", Integer, nullable=False),
    Column("installed_at", UTCDateTime, nullable=True),
    Column("install_reading_kwh", ExactDecimal, nullable=True),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("removal_reading_kwh", ExactDecimal, nullable=True),
    Column("relay", String(8), nullable=False, default="closed"),
    # The newest accepted reading: where the next interval starts.
    Column("last_reading_id", String(32), nullable=True),
    Column("last_ts", UTCDateTime, nullable=True),
    Column("last_raw_kwh", ExactDecimal, nullable=True),
    Column("last_offset_kwh", ExactDecimal, nullable=False),
    Column("last_bands", JSON, nullable=True),
    Column("last_relay", String(8), nullable=True),  # as the newest accepted reading reported it
    Column("driver", JSON, nullable=True),  # how the gateway reaches it: protocol, link, model
    Column("commissioning_status", String(16), nullable=False, server_default="not_commissioned"),
    Column("commissioned_at", UTCDateTime, nullable=True),
    Column("commissioning_report", JSON, nullable=True),  # `prepaid-gateway commission --report`
)

meter_exchanges = Table(
    "meter_exchanges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("meter_id", ForeignKey("meters.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("old_serial", String(64), nullable=False),
    Column("removal_reading_kwh", ExactDecimal, nullable=False),
    Column("new_serial", String(64), nullable=False),
    Column("opening_reading_kwh", ExactDecimal, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

readings = Table(
    "readings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("meter_id", ForeignKey("meters.id"), nullable=False),
    Column("ts", UTCDateTime, nullable=False),  # meter time
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(200), nullable=False),
    Column("raw_kwh", ExactDecimal, nullable=False),
    Column("bands_kwh", JSON, nullable=True),  # raw per-band registers, decimal strings
    Column("balance", ExactDecimal, nullable=True),  # meter-side balance if it reports one
    Column("relay", String(8), nullable=True),
    Column("continuous_kwh", ExactDecimal, nullable=True),  # x multiplier + rollover offset
    Column("outcome", String(16), nullable=False),
    Column("flags", String(120), nullable=False),
    Column("reason", Text, nullable=False),
    Column("entry_id", String(32), nullable=True),
    UniqueConstraint("meter_id", "ts", name="uq_readings_meter_ts"),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("meter_id", String(64), nullable=False, index=True),
    Column("account_id", String(64), nullable=True),
    Column("reading_id", String(32), nullable=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw_kwh", ExactDecimal, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved", Boolean, nullable=False, default=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("amount", ExactDecimal, nullable=False),  # signed: credit +, deduction -
    Column("balance_before", ExactDecimal, nullable=False),
    Column("balance_after", ExactDecimal, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("effective_at", UTCDateTime, nullable=False),  # reading time, or posting time
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("meter_id", String(64), nullable=True),
    Column("prev_reading_id", String(32), nullable=True),
    Column("reading_id", String(32), nullable=True),
    Column("prev_ts", UTCDateTime, nullable=True),
    Column("prev_kwh", ExactDecimal, nullable=True),
    Column("curr_ts", UTCDateTime, nullable=True),
    Column("curr_kwh", ExactDecimal, nullable=True),
    Column("energy_kwh", ExactDecimal, nullable=True),
    Column("tariff_version", String(200), nullable=True),
    Column("details", JSON, nullable=False),  # lines, rounding, method, notes, cycle before
    Column("external_ref", String(200), nullable=True),
    Column("reverses_entry_id", String(32), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("account_id", "sequence", name="uq_ledger_entries_account_sequence"),
    Index("ix_ledger_entries_meter_effective", "meter_id", "effective_at"),
    Index("ix_ledger_entries_account_kind_sequence", "account_id", "kind", "sequence"),
)

top_ups = Table(
    "top_ups",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("reference", String(200), primary_key=True),
    Column("amount", ExactDecimal, nullable=False),
    Column("entry_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# --- Runtime: alerts, meter commands, the transactional outbox (migration 0002) -------------

account_controls = Table(
    "account_controls",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("protected", Boolean, nullable=False, default=False),  # 保电: never disconnect
    Column("alert_levels", JSON, nullable=True),  # None: the gateway's default levels
    Column("alert_state", JSON, nullable=True),  # which levels are armed
    Column("emergency_credit", ExactDecimal, nullable=False),  # taken and not yet repaid
    Column("debt", ExactDecimal, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("meter_id", String(64), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("level", String(40), nullable=True),
    Column("message", Text, nullable=False),
    Column("balance", ExactDecimal, nullable=True),
    Column("entry_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
)

meter_commands = Table(
    "meter_commands",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("meter_id", String(64), nullable=False, index=True),
    Column("action", String(20), nullable=False),  # relay_open | relay_close | set_balance
    Column("params", JSON, nullable=True),
    Column("reason", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending | sent | confirmed | expired | failed
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(10), nullable=False),  # mqtt | webhook
    Column("topic", String(200), nullable=False),  # MQTT topic, or the event name for webhooks
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
)

standing_charge_days = Table(
    "standing_charge_days",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("day", String(10), primary_key=True),  # local date YYYY-MM-DD, posted once
    Column("entry_id", String(32), nullable=False),
)

# --- Billing API: keys and disputes (migration 0003) ----------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # the public part: "pgw_<id>.<secret>"
    Column("name", String(100), nullable=False),
    Column(
        "role", String(20), nullable=False
    ),  # admin | billing | operator | field-tech | read-only
    Column("secret_hash", String(64), nullable=False),  # sha256 of the secret part
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

disputes = Table(
    "disputes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("entry_id", String(32), nullable=False),
    Column("owner", String(100), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False),  # open | resolved | rejected
    Column("complaint", Text, nullable=False),
    Column("resolution", Text, nullable=True),
    Column("adjustment_entry_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
)
