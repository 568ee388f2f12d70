"""A meter as ingestion sees it: its rules and its newest accepted reading, locked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway.core.validation import Exchange, LastReading, MeterRules
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import meter_exchanges, meters


@dataclass(slots=True)
class MeterState:
    id: str
    account_id: str
    relay: str
    rules: MeterRules
    last: LastReading | None
    last_reading_id: str | None
    last_bands: dict[str, Decimal] | None
    last_relay: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    moved: bool = False

    def advance(
        self, reading_id: str, ts: datetime, raw_kwh: Decimal, offset_kwh: Decimal, *,
        bands: dict[str, Decimal] | None, relay: str | None,
    ) -> None:  # fmt: skip
        self.last = LastReading(ts, raw_kwh, offset_kwh)
        self.last_reading_id = reading_id
        self.last_bands = bands
        self.last_relay = relay
        self.moved = True

    def update_params(self) -> dict[str, Any]:
        assert self.last is not None
        return {
            "id": self.id,
            "last_reading_id": self.last_reading_id,
            "last_ts": self.last.ts,
            "last_raw_kwh": self.last.raw_kwh,
            "last_offset_kwh": self.last.offset_kwh,
            "last_relay": self.last_relay,
            "last_bands": None
            if self.last_bands is None
            else {band: format(kwh, "f") for band, kwh in self.last_bands.items()},
        }


def load_meters(uow: UnitOfWork, meter_ids: list[str], *, lock: bool) -> dict[str, MeterState]:
    """Meters by id (locked FOR UPDATE in id order on PostgreSQL), with their exchanges."""
    query = select(meters).where(meters.c.id.in_(meter_ids)).order_by(meters.c.id)
    if lock and uow.is_postgres:
        query = query.with_for_update()
    states = {}
    for row in uow.connection.execute(query):
        rules = MeterRules(
            multiplier=row.multiplier,
            register_modulus_kwh=row.register_modulus_kwh,
            max_power_kw=row.max_power_kw,
            expected_interval=timedelta(seconds=row.expected_interval_s),
        )
        last = None
        if row.last_ts is not None and row.last_raw_kwh is not None:
            last = LastReading(row.last_ts, row.last_raw_kwh, row.last_offset_kwh)
        bands = None
        if row.last_bands is not None:
            bands = {band: Decimal(kwh) for band, kwh in row.last_bands.items()}
        states[row.id] = MeterState(
            row.id,
            row.account_id,
            row.relay,
            rules,
            last,
            row.last_reading_id,
            bands,
            row.last_relay,
        )
    if states:
        exchanges = uow.connection.execute(
            select(meter_exchanges)
            .where(meter_exchanges.c.meter_id.in_(list(states)))
            .order_by(meter_exchanges.c.at)
        )
        for row in exchanges:
            states[row.meter_id].exchanges.append(
                Exchange(row.at, row.removal_reading_kwh, row.opening_reading_kwh)
            )
    return states
