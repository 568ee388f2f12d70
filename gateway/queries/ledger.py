"""Ledger pages per account (keyset by sequence) and per meter (keyset by time and id).

Both orders are stable while entries arrive: an account's sequence only grows, and a page
after a cursor never repeats or skips an entry that existed when the first page was read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select

from gateway.ledger.errors import InvalidRequestError, NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, ledger_entries, meters

KINDS = (
    "deduction", "standing_charge", "top_up", "adjustment", "reversal", "emergency_credit",
    "emergency_repayment", "debt_recovery",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReadingPoint:
    """One end of a charged interval: the reading id, its meter time and register value."""

    reading_id: str | None
    ts: datetime
    kwh: Decimal


@dataclass(frozen=True, slots=True)
class LineItem:
    """A priced line as rated: amount = energy_kwh x unit_price (exact, before rounding)."""

    kind: str
    start: datetime
    end: datetime
    tariff_version: str
    tier: int | None
    band: str | None
    energy_kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class RoundingStep:
    """The cycle's exact and rounded totals around this entry: charged = rounded change."""

    cycle_start: str
    exact_before: Decimal
    rounded_before: Decimal
    exact_amount: Decimal
    exact_after: Decimal
    rounded_after: Decimal
    charged: Decimal


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    account_id: str
    sequence: int
    kind: str
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    currency: str
    effective_at: datetime
    recorded_at: datetime
    meter_id: str | None
    previous: ReadingPoint | None
    current: ReadingPoint | None
    energy_kwh: Decimal | None
    tariff_version: str | None
    method: str | None
    flags: tuple[str, ...]
    notes: tuple[str, ...]
    lines: tuple[LineItem, ...]
    exact_amount: Decimal | None
    tax: Decimal | None
    rounding: tuple[RoundingStep, ...]
    reason: str | None
    external_ref: str | None
    reverses_entry_id: str | None
    related_entry_id: str | None


@dataclass(frozen=True, slots=True)
class Filters:
    """`start` inclusive, `end` exclusive, on effective_at; `kinds` empty means all."""

    start: datetime | None = None
    end: datetime | None = None
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    entries: tuple[Entry, ...]
    next_after_sequence: int | None = None
    next_cursor: str | None = None


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _line(data: dict[str, Any]) -> LineItem:
    return LineItem(
        data["kind"], datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]),
        data["tariff_version"], data.get("tier"), data.get("band"), Decimal(data["energy_kwh"]),
        Decimal(data["unit_price"]), Decimal(data["amount"]), Decimal(data["tax"]),
    )  # fmt: skip


def _step(data: dict[str, Any]) -> RoundingStep:
    return RoundingStep(
        str(data["cycle_start"]), Decimal(data["exact_before"]), Decimal(data["rounded_before"]),
        Decimal(data["exact_amount"]), Decimal(data["exact_after"]),
        Decimal(data["rounded_after"]), Decimal(data["charged"]),
    )  # fmt: skip


def entry_from_row(row: Any) -> Entry:
    """A ledger row with its JSON details unpacked into typed values."""
    details: dict[str, Any] = row.details if isinstance(row.details, dict) else {}
    previous = current = None
    if row.prev_ts is not None and row.prev_kwh is not None:
        previous = ReadingPoint(row.prev_reading_id, row.prev_ts, row.prev_kwh)
    if row.curr_ts is not None and row.curr_kwh is not None:
        current = ReadingPoint(row.reading_id, row.curr_ts, row.curr_kwh)
    return Entry(
        id=row.id, account_id=row.account_id, sequence=row.sequence, kind=row.kind,
        amount=row.amount, balance_before=row.balance_before, balance_after=row.balance_after,
        currency=row.currency, effective_at=row.effective_at, recorded_at=row.recorded_at,
        meter_id=row.meter_id, previous=previous, current=current, energy_kwh=row.energy_kwh,
        tariff_version=row.tariff_version, method=details.get("method"),
        flags=tuple(details.get("flags", ())), notes=tuple(details.get("notes", ())),
        lines=tuple(_line(line) for line in details.get("lines", ())),
        exact_amount=_dec(details.get("exact_amount")), tax=_dec(details.get("tax")),
        rounding=tuple(_step(step) for step in details.get("rounding", ())),
        reason=details.get("reason"), external_ref=row.external_ref,
        reverses_entry_id=row.reverses_entry_id,
        related_entry_id=details.get("related_entry_id") or details.get("top_up_entry_id"),
    )  # fmt: skip


def _filtered(query: Select[Any], filters: Filters) -> Select[Any]:
    if filters.start is not None:
        query = query.where(ledger_entries.c.effective_at >= filters.start)
    if filters.end is not None:
        query = query.where(ledger_entries.c.effective_at < filters.end)
    if filters.kinds:
        query = query.where(ledger_entries.c.kind.in_(filters.kinds))
    return query


def _require(uow: UnitOfWork, table: Any, key: str, noun: str) -> None:
    if uow.connection.execute(select(table.c.id).where(table.c.id == key)).first() is None:
        msg = f"{noun} {key!r} does not exist"
        raise NotFoundError(msg)


def account_ledger(
    uow: UnitOfWork, account_id: str, *, filters: Filters, after_sequence: int = 0,
    limit: int = 50,
) -> Page:  # fmt: skip
    """Entries with sequence > `after_sequence`, oldest first; `next_after_sequence` is set
    when more may follow."""
    _require(uow, accounts, account_id, "account")
    query = (
        select(ledger_entries)
        .where(ledger_entries.c.account_id == account_id)
        .where(ledger_entries.c.sequence > after_sequence)
        .order_by(ledger_entries.c.sequence)
        .limit(limit + 1)
    )
    rows = uow.connection.execute(_filtered(query, filters)).all()
    entries = tuple(entry_from_row(row) for row in rows[:limit])
    more = len(rows) > limit
    return Page(entries, next_after_sequence=entries[-1].sequence if more else None)


def encode_cursor(effective_at: datetime, entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"{effective_at.isoformat()}|{entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (effective_at, id) a meter-ledger cursor stands for; a bad cursor is a 422."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        at, entry_id = text.split("|", 1)
        instant = datetime.fromisoformat(at)
    except (ValueError, UnicodeError, binascii.Error) as error:
        msg = f"cursor {cursor!r} is not a cursor this API returned"
        raise InvalidRequestError(msg) from error
    if instant.tzinfo is None:
        msg = f"cursor {cursor!r} is not a cursor this API returned"
        raise InvalidRequestError(msg)
    return instant, entry_id


def meter_ledger(
    uow: UnitOfWork, meter_id: str, *, filters: Filters, cursor: str | None = None,
    limit: int = 50,
) -> Page:  # fmt: skip
    """Entries about one meter ordered by (effective_at, id), after the opaque `cursor`."""
    _require(uow, meters, meter_id, "meter")
    query = select(ledger_entries).where(ledger_entries.c.meter_id == meter_id)
    if cursor is not None:
        at, entry_id = decode_cursor(cursor)
        query = query.where(
            or_(
                ledger_entries.c.effective_at > at,
                and_(ledger_entries.c.effective_at == at, ledger_entries.c.id > entry_id),
            )
        )
    query = query.order_by(ledger_entries.c.effective_at, ledger_entries.c.id).limit(limit + 1)
    rows = uow.connection.execute(_filtered(query, filters)).all()
    entries = tuple(entry_from_row(row) for row in rows[:limit])
    more = len(rows) > limit
    last = entries[-1] if more else None
    return Page(entries, next_cursor=encode_cursor(last.effective_at, last.id) if last else None)


def entries_between(
    uow: UnitOfWork, account_id: str, start: datetime, end: datetime
) -> Sequence[Entry]:
    """Every entry of an account effective in [start, end), in sequence order."""
    query = _filtered(
        select(ledger_entries)
        .where(ledger_entries.c.account_id == account_id)
        .order_by(ledger_entries.c.sequence),
        Filters(start, end),
    )
    return [entry_from_row(row) for row in uow.connection.execute(query)]
