"""Meters and their commands as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import meter_commands, meter_exchanges, meters


@dataclass(frozen=True, slots=True)
class ExchangeView:
    at: datetime
    old_serial: str
    removal_reading_kwh: Decimal
    new_serial: str
    opening_reading_kwh: Decimal


@dataclass(frozen=True, slots=True)
class MeterView:
    id: str
    account_id: str
    serial: str
    multiplier: Decimal
    register_modulus_kwh: Decimal | None
    max_power_kw: Decimal
    expected_interval_s: int
    installed_at: datetime | None
    install_reading_kwh: Decimal | None
    relay: str
    last_reading_at: datetime | None
    last_reading_kwh: Decimal | None
    exchanges: tuple[ExchangeView, ...]
    driver: dict[str, Any] | None = None
    commissioning_status: str = "not_commissioned"
    commissioned_at: datetime | None = None
    commissioning_report: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CommandView:
    id: str
    meter_id: str
    action: str
    reason: str
    status: str
    attempts: int
    manual: bool
    requested_by: str | None
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    last_error: str | None


def get_meter(uow: UnitOfWork, meter_id: str) -> MeterView:
    found = list_meters(uow, ids=[meter_id])
    if not found:
        msg = f"meter {meter_id!r} does not exist"
        raise NotFoundError(msg)
    return found[0]


def list_meters(
    uow: UnitOfWork, *, account_id: str | None = None, after: str | None = None,
    limit: int = 100, ids: list[str] | None = None,
) -> list[MeterView]:  # fmt: skip
    """Meters in id order after `after` (keyset), optionally of one account."""
    query = select(meters).order_by(meters.c.id).limit(limit)
    if after is not None:
        query = query.where(meters.c.id > after)
    if account_id is not None:
        query = query.where(meters.c.account_id == account_id)
    if ids is not None:
        query = query.where(meters.c.id.in_(ids))
    rows = uow.connection.execute(query).all()
    swaps: dict[str, list[ExchangeView]] = {row.id: [] for row in rows}
    for ex in uow.connection.execute(
        select(meter_exchanges)
        .where(meter_exchanges.c.meter_id.in_(list(swaps)))
        .order_by(meter_exchanges.c.at)
    ):
        swaps[ex.meter_id].append(
            ExchangeView(
                ex.at, ex.old_serial, ex.removal_reading_kwh, ex.new_serial, ex.opening_reading_kwh
            )
        )
    return [
        MeterView(
            row.id,
            row.account_id,
            row.serial,
            row.multiplier,
            row.register_modulus_kwh,
            row.max_power_kw,
            row.expected_interval_s,
            row.installed_at,
            row.install_reading_kwh,
            row.relay,
            row.last_ts,
            row.last_raw_kwh,
            tuple(swaps[row.id]),
            row.driver,
            row.commissioning_status,
            row.commissioned_at,
            row.commissioning_report,
        )
        for row in rows
    ]


def list_commands(
    uow: UnitOfWork, meter_id: str, *, after: str | None = None, limit: int = 100
) -> list[CommandView]:
    """The meter's commands, oldest first, after the command `after` (keyset on time, id)."""
    get_meter(uow, meter_id)
    query = (
        select(meter_commands)
        .where(meter_commands.c.meter_id == meter_id)
        .order_by(meter_commands.c.created_at, meter_commands.c.id)
        .limit(limit)
    )
    if after is not None:
        cursor = uow.connection.execute(
            select(meter_commands.c.created_at).where(
                meter_commands.c.id == after, meter_commands.c.meter_id == meter_id
            )
        ).scalar_one_or_none()
        if cursor is None:
            msg = f"command {after!r} (the cursor) does not exist for meter {meter_id}"
            raise NotFoundError(msg)
        query = query.where(
            or_(
                meter_commands.c.created_at > cursor,
                and_(meter_commands.c.created_at == cursor, meter_commands.c.id > after),
            )
        )
    return [_command(row) for row in uow.connection.execute(query)]


def get_command(uow: UnitOfWork, command_id: str) -> CommandView:
    row = uow.connection.execute(
        select(meter_commands).where(meter_commands.c.id == command_id)
    ).first()
    if row is None:
        msg = f"command {command_id!r} does not exist"
        raise NotFoundError(msg)
    return _command(row)


def _command(row: Any) -> CommandView:
    params = row.params or {}
    return CommandView(
        row.id, row.meter_id, row.action, row.reason, row.status, row.attempts,
        bool(params.get("manual", False)), params.get("requested_by"), row.created_at,
        row.expires_at, row.confirmed_at, row.last_error,
    )  # fmt: skip
