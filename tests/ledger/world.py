"""A small facade over the ledger services for tests: one call per action, own clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from gateway.ledger import admin
from gateway.ledger.ingest import IngestResult, ReadingIn, record_readings
from gateway.ledger.tariffs import TariffCache
from gateway.ledger.topups import Posted, adjust, reverse_entry, top_up
from gateway.ledger.verify import Report, verify_ledger
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, anomalies, ledger_entries, readings

T0 = datetime(2024, 6, 1, tzinfo=UTC)

FLAT: dict[str, Any] = {
    "tariff_id": "flat",
    "version": 1,
    "effective_from": "2024-01-01",
    "timezone": "UTC",
    "currency": "EUR",
    "price_per_kwh": "0.2734",
}

TOU: dict[str, Any] = {
    "tariff_id": "tou",
    "version": 1,
    "effective_from": "2024-01-01",
    "timezone": "UTC",
    "currency": "EUR",
    "cycle": {"period": "monthly"},
    "tiers": [
        {"up_to_kwh": 100, "prices": {"peak": "0.40", "valley": "0.20"}},
        {"prices": {"peak": "0.50", "valley": "0.25"}},
    ],
    "time_of_use": [
        {
            "windows": [
                {"band": "valley", "start": "22:00", "end": "06:00"},
                {"band": "peak", "start": "06:00", "end": "22:00"},
            ]
        }
    ],
}


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class World:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or Clock()
        self.cache = TariffCache()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def tariff(self, document: Mapping[str, Any]) -> str:
        with self.uow() as uow:
            label = admin.register_tariff_version(uow, document, self.clock())
            uow.commit()
        return label

    def account(self, account_id: str, tariff_id: str = "flat", opening: str = "100.00",
                **kwargs: Any) -> None:  # fmt: skip
        with self.uow() as uow:
            admin.create_account(
                uow, account_id, currency="EUR", tariff_id=tariff_id, now=self.clock(),
                opening_balance=Decimal(opening), **kwargs,
            )  # fmt: skip
            uow.commit()

    def meter(self, meter_id: str, account_id: str, **kwargs: Any) -> None:
        with self.uow() as uow:
            admin.add_meter(uow, meter_id, account_id=account_id, serial=f"S-{meter_id}", **kwargs)
            uow.commit()

    def exchange(self, meter_id: str, at: datetime, removal: str, opening: str) -> None:
        with self.uow() as uow:
            admin.declare_exchange(uow, meter_id, at=at, removal_reading_kwh=Decimal(removal),
                                   new_serial=f"N-{meter_id}", opening_reading_kwh=Decimal(opening),
                                   now=self.clock())  # fmt: skip
            uow.commit()

    def ingest(self, *batch: ReadingIn) -> list[IngestResult]:
        with self.uow() as uow:
            results = record_readings(uow, list(batch), now=self.clock(), tariffs=self.cache)
            uow.commit()
        return results

    def top_up(self, account_id: str, amount: str, reference: str) -> Posted:
        with self.uow() as uow:
            posted = top_up(uow, account_id, Decimal(amount), reference, now=self.clock())
            uow.commit()
        return posted

    def reverse(self, entry_id: str, reason: str = "test") -> Posted:
        with self.uow() as uow:
            posted = reverse_entry(uow, entry_id, reason, now=self.clock())
            uow.commit()
        return posted

    def adjust(self, account_id: str, amount: str, reason: str) -> Posted:
        with self.uow() as uow:
            posted = adjust(uow, account_id, Decimal(amount), reason, now=self.clock())
            uow.commit()
        return posted

    def balance(self, account_id: str) -> Decimal:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(accounts.c.balance).where(accounts.c.id == account_id)
            ).scalar_one()
        assert isinstance(value, Decimal)
        return value

    def entries(self, account_id: str) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(ledger_entries)
                    .where(ledger_entries.c.account_id == account_id)
                    .order_by(ledger_entries.c.sequence)
                )
            )

    def readings(self, meter_id: str) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(readings).where(readings.c.meter_id == meter_id).order_by(readings.c.ts)
                )
            )

    def anomalies(self, meter_id: str) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(anomalies)
                    .where(anomalies.c.meter_id == meter_id)
                    .order_by(anomalies.c.id)
                )
            )

    def verify(self) -> Report:
        with self.uow() as uow:
            return verify_ledger(uow)


def reading(meter_id: str, minutes: float, kwh: str, **kwargs: Any) -> ReadingIn:
    """A reading `minutes` after T0."""
    return ReadingIn(meter_id, T0 + timedelta(minutes=minutes), Decimal(kwh), **kwargs)
