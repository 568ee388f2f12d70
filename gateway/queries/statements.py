"""Monthly statements: what an account was charged and credited in a local calendar month.

An entry belongs to the month in which it is *effective* (the reading time of a deduction,
the day of a standing charge, the posting time of a top-up), with month boundaries at local
midnight in the account tariff's timezone. The opening balance is the account's opening
balance plus every entry effective before the month, so opening + credits - debits =
closing holds exactly even when a late reading was posted after the month ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from gateway.core.localtime import local_midnight
from gateway.ledger.errors import InvalidRequestError, NotFoundError
from gateway.queries.ledger import Entry, entries_between
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import account_tariffs, accounts, ledger_entries, tariff_versions

ZERO = Decimal(0)
SECTIONS = {"deduction": "deductions", "standing_charge": "standing_charges", "top_up": "top_ups"}


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: str
    currency: str
    month: str
    timezone: str
    period_start: datetime
    period_end: datetime
    opening_balance: Decimal
    credits: Decimal
    debits: Decimal
    closing_balance: Decimal
    energy_kwh: Decimal
    top_ups: tuple[Entry, ...]
    deductions: tuple[Entry, ...]
    standing_charges: tuple[Entry, ...]
    other: tuple[Entry, ...]
    check: str
    reconciles: bool


def parse_month(month: str) -> date:
    try:
        return datetime.strptime(month, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError as error:
        msg = f"month {month!r} is not YYYY-MM"
        raise InvalidRequestError(msg) from error


def account_timezone(uow: UnitOfWork, account_id: str, at: datetime) -> str:
    """The timezone of the tariff the account was on at `at` (its first tariff before that),
    as the version of that tariff in force at `at` (its first version before that) gives it."""
    assigned = uow.connection.execute(
        select(account_tariffs.c.tariff_id, account_tariffs.c.effective_from)
        .where(account_tariffs.c.account_id == account_id)
        .order_by(account_tariffs.c.effective_from)
    ).all()
    if not assigned:
        msg = f"account {account_id!r} does not exist or has no tariff"
        raise NotFoundError(msg)
    tariff_id = next((r.tariff_id for r in reversed(assigned) if r.effective_from <= at),
                     assigned[0].tariff_id)  # fmt: skip
    versions = uow.connection.execute(
        select(tariff_versions.c.effective_from, tariff_versions.c.document)
        .where(tariff_versions.c.tariff_id == tariff_id)
        .order_by(tariff_versions.c.version)
    ).all()
    chosen = next((v for v in reversed(versions) if v.effective_from <= at), versions[0])
    return str(chosen.document.get("timezone", "UTC"))


def balance_at(uow: UnitOfWork, account_id: str, at: datetime) -> Decimal:
    """Opening balance + every entry effective before `at`, exactly.

    Entries are mostly in effective order, so: take the balance before the first entry (by
    sequence) effective at or after `at`, then add the few later-sequenced entries that are
    effective before `at` (late readings). Only those are summed here, never the history.
    """
    account = uow.connection.execute(
        select(accounts.c.balance, accounts.c.opening_balance).where(accounts.c.id == account_id)
    ).one()
    first_after = uow.connection.execute(
        select(func.min(ledger_entries.c.sequence)).where(
            ledger_entries.c.account_id == account_id, ledger_entries.c.effective_at >= at
        )
    ).scalar()
    if first_after is None:
        balance: Decimal = account.balance
        return balance
    rows = uow.connection.execute(
        select(ledger_entries.c.sequence, ledger_entries.c.amount, ledger_entries.c.balance_before)
        .where(ledger_entries.c.account_id == account_id)
        .where(ledger_entries.c.sequence >= first_after)
        .where((ledger_entries.c.effective_at < at) | (ledger_entries.c.sequence == first_after))
    ).all()
    base: Decimal = next(r.balance_before for r in rows if r.sequence == first_after)
    late = [r.amount for r in rows if r.sequence != first_after]
    return base + sum(late, ZERO)


def monthly_statement(uow: UnitOfWork, account_id: str, month: str) -> Statement:
    first = parse_month(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    exists = uow.connection.execute(
        select(accounts.c.currency).where(accounts.c.id == account_id)
    ).first()
    if exists is None:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    tz_name = account_timezone(uow, account_id, datetime(first.year, first.month, 15, tzinfo=UTC))
    tz = ZoneInfo(tz_name)
    start, end = local_midnight(first, tz), local_midnight(following, tz)
    entries = entries_between(uow, account_id, start, end)
    opening, closing = balance_at(uow, account_id, start), balance_at(uow, account_id, end)
    credits = sum((e.amount for e in entries if e.amount > 0), ZERO)
    debits = -sum((e.amount for e in entries if e.amount < 0), ZERO)
    groups: dict[str, list[Entry]] = {"top_ups": [], "deductions": [], "standing_charges": [],
                                      "other": []}  # fmt: skip
    for entry in entries:
        groups[SECTIONS.get(entry.kind, "other")].append(entry)
    reconciles = opening + credits - debits == closing
    check = (f"{opening} + {credits} - {debits} = {opening + credits - debits}"
             f" ({'equals' if reconciles else 'DIFFERS FROM'} closing {closing})")  # fmt: skip
    return Statement(
        account_id=account_id, currency=exists.currency, month=f"{first:%Y-%m}",
        timezone=tz_name, period_start=start, period_end=end, opening_balance=opening,
        credits=credits, debits=debits, closing_balance=closing,
        energy_kwh=sum((e.energy_kwh or ZERO for e in groups["deductions"]), ZERO),
        top_ups=tuple(groups["top_ups"]), deductions=tuple(groups["deductions"]),
        standing_charges=tuple(groups["standing_charges"]), other=tuple(groups["other"]),
        check=check, reconciles=reconciles,
    )  # fmt: skip
