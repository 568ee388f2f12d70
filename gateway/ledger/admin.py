"""Setting up what the ledger works on: tariffs, accounts, meters, meter exchanges."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version
from gateway.ledger.codec import GENESIS_HASH
from gateway.ledger.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import (
    account_tariffs,
    accounts,
    meter_exchanges,
    meters,
    tariff_versions,
)

ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def register_tariff_version(uow: UnitOfWork, document: Mapping[str, Any], now: datetime) -> str:
    """Store a validated tariff version; the same version again is a no-op, a changed one is
    refused (versions are immutable: publish a new version instead)."""
    version = parse_tariff_version(document)
    existing = uow.connection.execute(
        select(tariff_versions.c.document).where(
            tariff_versions.c.tariff_id == version.tariff_id,
            tariff_versions.c.version == version.version,
        )
    ).first()
    if existing is not None:
        if existing.document != dict(document):
            msg = f"{version.label} already exists with other content; publish a new version"
            raise ConflictError(msg)
        return version.label
    others = uow.connection.execute(
        select(tariff_versions.c.document).where(tariff_versions.c.tariff_id == version.tariff_id)
    ).all()
    # The versions must make one valid tariff together (same currency, distinct dates).
    Tariff((*(parse_tariff_version(row.document) for row in others), version))
    uow.connection.execute(
        insert(tariff_versions).values(
            tariff_id=version.tariff_id,
            version=version.version,
            effective_from=version.effective_from,
            document=dict(document),
            created_at=now,
        )
    )
    return version.label


def create_account(
    uow: UnitOfWork,
    account_id: str,
    *,
    currency: str,
    tariff_id: str,
    now: datetime,
    opening_balance: Decimal = ZERO,
    tariff_from: datetime | None = None,
    extra_kwh_per_month: Decimal = ZERO,
) -> None:
    found = uow.connection.execute(
        select(tariff_versions.c.document).where(tariff_versions.c.tariff_id == tariff_id).limit(1)
    ).first()
    if found is None:
        msg = f"tariff {tariff_id!r} does not exist"
        raise NotFoundError(msg)
    if found.document["currency"] != currency:
        msg = f"account currency {currency} differs from tariff {tariff_id}'s"
        raise InvalidRequestError(msg)
    uow.connection.execute(
        insert(accounts).values(
            id=account_id,
            currency=currency,
            minor_unit=found.document.get("minor_unit", 2),
            status="active",
            opening_balance=opening_balance,
            balance=opening_balance,
            extra_kwh_per_month=extra_kwh_per_month,
            last_sequence=0,
            last_hash=GENESIS_HASH,
            cycle_start=None,
            cycle_consumed_kwh=ZERO,
            cycle_exact_charge=ZERO,
            cycle_exact_tax=ZERO,
            created_at=now,
        )
    )
    assign_tariff(uow, account_id, tariff_id, tariff_from or EPOCH)


def assign_tariff(
    uow: UnitOfWork, account_id: str, tariff_id: str, effective_from: datetime
) -> None:
    """Record which tariff the account is on from `effective_from` (history is kept)."""
    uow.connection.execute(
        insert(account_tariffs).values(
            account_id=account_id, tariff_id=tariff_id, effective_from=effective_from
        )
    )


def add_meter(
    uow: UnitOfWork,
    meter_id: str,
    *,
    account_id: str,
    serial: str,
    multiplier: Decimal = Decimal(1),
    register_modulus_kwh: Decimal | None = None,
    max_power_kw: Decimal = Decimal(100),
    expected_interval: timedelta = timedelta(minutes=15),
    installed_at: datetime | None = None,
    install_reading_kwh: Decimal | None = None,
) -> None:
    """A meter on an account. With an installation reading, charging starts from it."""
    if (installed_at is None) != (install_reading_kwh is None):
        msg = "give installed_at and install_reading_kwh together"
        raise InvalidRequestError(msg)
    if multiplier <= 0 or max_power_kw <= 0:
        msg = "multiplier and max_power_kw must be positive"
        raise InvalidRequestError(msg)
    uow.connection.execute(
        insert(meters).values(
            id=meter_id,
            account_id=account_id,
            serial=serial,
            multiplier=multiplier,
            register_modulus_kwh=register_modulus_kwh,
            max_power_kw=max_power_kw,
            expected_interval_s=int(expected_interval.total_seconds()),
            installed_at=installed_at,
            install_reading_kwh=install_reading_kwh,
            removed_at=None,
            removal_reading_kwh=None,
            relay="closed",
            last_reading_id=None,
            last_ts=installed_at,
            last_raw_kwh=install_reading_kwh,
            last_offset_kwh=ZERO,
            last_bands=None,
        )
    )


def declare_exchange(
    uow: UnitOfWork,
    meter_id: str,
    *,
    at: datetime,
    removal_reading_kwh: Decimal,
    new_serial: str,
    opening_reading_kwh: Decimal,
    now: datetime,
) -> None:
    """A technician swapped the meter: charge the old register up to its removal reading,
    then continue from the new one's opening reading."""
    meter = uow.connection.execute(select(meters).where(meters.c.id == meter_id)).first()
    if meter is None:
        msg = f"meter {meter_id!r} does not exist"
        raise NotFoundError(msg)
    uow.connection.execute(
        insert(meter_exchanges).values(
            meter_id=meter_id,
            at=at,
            old_serial=meter.serial,
            removal_reading_kwh=removal_reading_kwh,
            new_serial=new_serial,
            opening_reading_kwh=opening_reading_kwh,
            created_at=now,
        )
    )
    uow.connection.execute(
        update(meters)
        .where(meters.c.id == meter_id)
        .values(serial=new_serial, removed_at=at, removal_reading_kwh=removal_reading_kwh)
    )
