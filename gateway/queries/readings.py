"""A meter's stored readings, with what became of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import ledger_entries, meters, readings


@dataclass(frozen=True, slots=True)
class ReadingView:
    id: str
    meter_id: str
    ts: datetime
    received_at: datetime
    source: str
    energy_kwh: Decimal
    bands_kwh: dict[str, str] | None
    outcome: str
    flags: tuple[str, ...]
    reason: str
    entry_id: str | None
    charged: Decimal | None


def list_readings(
    uow: UnitOfWork, meter_id: str, *, since: datetime | None = None,
    until: datetime | None = None, after: datetime | None = None, limit: int = 100,
) -> list[ReadingView]:  # fmt: skip
    """Readings of one meter in meter-time order: `since` <= ts < `until`, and ts > `after`
    (keyset: a meter has one reading per instant)."""
    known = uow.connection.execute(select(meters.c.id).where(meters.c.id == meter_id)).first()
    if known is None:
        msg = f"meter {meter_id!r} does not exist"
        raise NotFoundError(msg)
    query = (
        select(readings, ledger_entries.c.amount)
        .outerjoin(ledger_entries, ledger_entries.c.id == readings.c.entry_id)
        .where(readings.c.meter_id == meter_id)
        .order_by(readings.c.ts)
        .limit(limit)
    )
    if since is not None:
        query = query.where(readings.c.ts >= since)
    if until is not None:
        query = query.where(readings.c.ts < until)
    if after is not None:
        query = query.where(readings.c.ts > after)
    return [
        ReadingView(
            row.id,
            row.meter_id,
            row.ts,
            row.received_at,
            row.source,
            row.raw_kwh,
            row.bands_kwh,
            row.outcome,
            tuple(f for f in row.flags.split(",") if f),
            row.reason,
            row.entry_id,
            -row.amount if row.amount is not None else None,
        )
        for row in uow.connection.execute(query)
    ]
