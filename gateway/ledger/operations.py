"""Operator actions the API needs beyond the ledger's services: checked writes, each one a
small function the caller commits. Errors name what is wrong (ledger error types)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from gateway.core.commands import CommandAction
from gateway.ledger import admin
from gateway.ledger.controls import OPEN_COMMANDS, load_controls
from gateway.ledger.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway.ledger.posting import new_id
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import (
    account_tariffs,
    accounts,
    alerts,
    ledger_entries,
    meter_commands,
    meters,
    tariff_versions,
)

MANUAL_ACTIONS = (CommandAction.RELAY_OPEN, CommandAction.RELAY_CLOSE)


def _account(uow: UnitOfWork, account_id: str) -> Any:
    row = uow.connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    return row


def _meter(uow: UnitOfWork, meter_id: str) -> Any:
    row = uow.connection.execute(select(meters).where(meters.c.id == meter_id)).first()
    if row is None:
        msg = f"meter {meter_id!r} does not exist"
        raise NotFoundError(msg)
    return row


def open_account(
    uow: UnitOfWork,
    account_id: str,
    *,
    currency: str,
    tariff_id: str,
    now: datetime,
    opening_balance: Decimal,
    extra_kwh_per_month: Decimal,
) -> None:
    """A new account; an id already in use is a conflict (not a database error)."""
    taken = uow.connection.execute(select(accounts.c.id).where(accounts.c.id == account_id))
    if taken.first() is not None:
        msg = f"account {account_id!r} already exists"
        raise ConflictError(msg)
    admin.create_account(
        uow, account_id, currency=currency, tariff_id=tariff_id, now=now,
        opening_balance=opening_balance, extra_kwh_per_month=extra_kwh_per_month,
    )  # fmt: skip


def change_tariff(
    uow: UnitOfWork, account_id: str, tariff_id: str, effective_from: datetime
) -> None:
    """Put the account on `tariff_id` from `effective_from`. Refused when the tariff is in
    another currency, when an assignment already starts then, or when it would reprice
    consumption already charged (post a correction instead)."""
    account = _account(uow, account_id)
    document = uow.connection.execute(
        select(tariff_versions.c.document).where(tariff_versions.c.tariff_id == tariff_id).limit(1)
    ).scalar_one_or_none()
    if document is None:
        msg = f"tariff {tariff_id!r} does not exist"
        raise NotFoundError(msg)
    if document["currency"] != account.currency:
        msg = f"tariff {tariff_id} is in {document['currency']}, account {account_id} in " + (
            account.currency
        )
        raise InvalidRequestError(msg)
    clash = uow.connection.execute(
        select(account_tariffs.c.tariff_id).where(
            account_tariffs.c.account_id == account_id,
            account_tariffs.c.effective_from == effective_from,
        )
    ).first()
    if clash is not None:
        msg = f"account {account_id} already changes to {clash.tariff_id} at that instant"
        raise ConflictError(msg)
    charged_to = uow.connection.execute(
        select(func.max(ledger_entries.c.curr_ts)).where(ledger_entries.c.account_id == account_id)
    ).scalar_one_or_none()
    if charged_to is not None and effective_from < charged_to:
        msg = (
            f"consumption up to {charged_to.isoformat()} is already charged; a tariff change"
            " must start at or after it"
        )
        raise ConflictError(msg)
    admin.assign_tariff(uow, account_id, tariff_id, effective_from)


def register_meter(
    uow: UnitOfWork,
    meter_id: str,
    *,
    account_id: str,
    serial: str,
    multiplier: Decimal,
    register_modulus_kwh: Decimal | None,
    max_power_kw: Decimal,
    expected_interval: timedelta,
    installed_at: datetime | None,
    install_reading_kwh: Decimal | None,
    driver: dict[str, Any] | None = None,
) -> None:
    """A new meter on an existing account; an id already in use is a conflict."""
    _account(uow, account_id)
    taken = uow.connection.execute(select(meters.c.id).where(meters.c.id == meter_id)).first()
    if taken is not None:
        msg = f"meter {meter_id!r} already exists"
        raise ConflictError(msg)
    if register_modulus_kwh is not None and register_modulus_kwh <= 0:
        raise InvalidRequestError("register_modulus_kwh must be positive")
    if expected_interval <= timedelta(0):
        raise InvalidRequestError("expected_interval_s must be positive")
    admin.add_meter(
        uow, meter_id, account_id=account_id, serial=serial, multiplier=multiplier,
        register_modulus_kwh=register_modulus_kwh, max_power_kw=max_power_kw,
        expected_interval=expected_interval, installed_at=installed_at,
        install_reading_kwh=install_reading_kwh,
    )  # fmt: skip
    if driver is not None:
        uow.connection.execute(update(meters).where(meters.c.id == meter_id).values(driver=driver))


def record_commissioning(
    uow: UnitOfWork, meter_id: str, *, passed: bool, report: dict[str, Any], now: datetime
) -> None:
    """Store a commissioning run's outcome and its report (`prepaid-gateway commission`)."""
    found = uow.connection.execute(select(meters.c.id).where(meters.c.id == meter_id)).first()
    if found is None:
        msg = f"meter {meter_id!r} does not exist"
        raise NotFoundError(msg)
    uow.connection.execute(
        update(meters)
        .where(meters.c.id == meter_id)
        .values(
            commissioning_status="passed" if passed else "failed",
            commissioned_at=now,
            commissioning_report=report,
        )
    )


def exchange_meter(
    uow: UnitOfWork,
    meter_id: str,
    *,
    at: datetime,
    removal_reading_kwh: Decimal,
    new_serial: str,
    opening_reading_kwh: Decimal,
    now: datetime,
) -> None:
    """Declare a meter exchange; refused before the newest reading or in the future."""
    meter = _meter(uow, meter_id)
    if at > now:
        msg = f"exchange time {at.isoformat()} is in the future"
        raise InvalidRequestError(msg)
    if meter.last_ts is not None and at < meter.last_ts:
        msg = f"exchange time {at.isoformat()} is before the newest reading {meter.last_ts}"
        raise ConflictError(msg)
    admin.declare_exchange(
        uow, meter_id, at=at, removal_reading_kwh=removal_reading_kwh, new_serial=new_serial,
        opening_reading_kwh=opening_reading_kwh, now=now,
    )  # fmt: skip


def acknowledge_alert(uow: UnitOfWork, alert_id: str, *, by: str, now: datetime) -> None:
    """Mark an alert acknowledged; acknowledging it again keeps the first acknowledgement."""
    row = uow.connection.execute(
        select(alerts.c.acknowledged_at).where(alerts.c.id == alert_id)
    ).first()
    if row is None:
        msg = f"alert {alert_id!r} does not exist"
        raise NotFoundError(msg)
    if row.acknowledged_at is None:
        uow.connection.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(acknowledged_at=now, acknowledged_by=by)
        )


def queue_relay_command(
    uow: UnitOfWork,
    meter_id: str,
    action: CommandAction,
    *,
    reason: str,
    expires_in: timedelta,
    requested_by: str,
    now: datetime,
) -> str:
    """A pending manual relay command for the dispatcher; returns its id. Refused while
    another command for the meter awaits confirmation, and opening a protected account's
    relay (保电) is refused."""
    if action not in MANUAL_ACTIONS:
        msg = f"action must be relay_open or relay_close, got {action}"
        raise InvalidRequestError(msg)
    if not reason.strip():
        raise InvalidRequestError("reason must not be empty")
    if expires_in <= timedelta(0):
        raise InvalidRequestError("expires_in_s must be positive")
    meter = _meter(uow, meter_id)
    waiting = uow.connection.execute(
        select(meter_commands.c.id).where(
            meter_commands.c.meter_id == meter_id, meter_commands.c.status.in_(OPEN_COMMANDS)
        )
    ).first()
    if waiting is not None:
        msg = f"command {waiting.id} for meter {meter_id} is still awaiting confirmation"
        raise ConflictError(msg)
    if action is CommandAction.RELAY_OPEN:
        controls = load_controls(uow, [meter.account_id])[meter.account_id]
        if controls.protected:
            msg = f"account {meter.account_id} is protected (保电): its relay is never opened"
            raise ConflictError(msg)
    command_id = new_id()
    uow.connection.execute(
        insert(meter_commands).values(
            id=command_id,
            meter_id=meter_id,
            action=action.value,
            params={"manual": True, "requested_by": requested_by},
            reason=reason,
            status="pending",
            attempts=0,
            created_at=now,
            expires_at=now + expires_in,
            next_attempt_at=now,
            confirmed_at=None,
            last_error=None,
        )
    )
    return command_id
