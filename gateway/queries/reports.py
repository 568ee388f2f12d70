"""Customer-management reports: ABC classification by consumption, and arrears.

ABC: accounts ranked by kWh charged in [start, end) (deductions not reversed), most first,
ties by account id. The first ceil(n x a / 100) ranks are A and the ranks up to
ceil(n x (a + b) / 100) are B; then an account whose consumption equals that of the last
account of a higher class joins that class (equal consumption, equal class, whatever the
ids), and an account that consumed nothing is always C.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from gateway.ledger.errors import InvalidRequestError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, ledger_entries

ZERO = Decimal(0)
ABC_RULE = (
    "rank by kWh (most first, then account id); A = the first ceil(n x a / 100) ranks, B = up"
    " to rank ceil(n x (a + b) / 100), C = the rest; an account with the same kWh as the last"
    " account of a higher class joins that class; an account with no consumption is C"
)
BURN_KINDS = ("deduction", "standing_charge")


@dataclass(frozen=True, slots=True)
class Ranked:
    account_id: str
    rank: int
    consumption_kwh: Decimal
    abc_class: str


@dataclass(frozen=True, slots=True)
class AbcReport:
    start: datetime
    end: datetime
    a_percent: Decimal
    b_percent: Decimal
    accounts: tuple[Ranked, ...]
    counts: dict[str, int]
    consumption_kwh: dict[str, Decimal]
    rule: str = ABC_RULE


def consumption_by_account(uow: UnitOfWork, start: datetime, end: datetime) -> dict[str, Decimal]:
    """kWh charged per account in [start, end); every account appears, with zero if idle.
    Summed in Python: SQLite stores exact decimals as text, which SQL SUM would make floats."""
    totals = dict.fromkeys(uow.connection.execute(select(accounts.c.id)).scalars(), ZERO)
    reversed_ids = select(ledger_entries.c.reverses_entry_id).where(
        ledger_entries.c.reverses_entry_id.is_not(None)
    )
    rows = uow.connection.execute(
        select(ledger_entries.c.account_id, ledger_entries.c.energy_kwh).where(
            ledger_entries.c.kind == "deduction",
            ledger_entries.c.effective_at >= start,
            ledger_entries.c.effective_at < end,
            ledger_entries.c.id.not_in(reversed_ids),
        )
    )
    for account_id, energy_kwh in rows:
        totals[account_id] += energy_kwh or ZERO
    return totals


def classify(totals: dict[str, Decimal], a: Decimal, b: Decimal) -> list[Ranked]:
    """The ABC rule of the module docstring, on plain values."""
    order = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    n = len(order)
    cut_a, cut_ab = math.ceil(n * a / 100), math.ceil(n * (a + b) / 100)
    ranked: list[Ranked] = []
    for index, (account_id, kwh) in enumerate(order):
        klass = "A" if index < cut_a else "B" if index < cut_ab else "C"
        if ranked and kwh == ranked[-1].consumption_kwh and ranked[-1].abc_class < klass:
            klass = ranked[-1].abc_class  # a tie follows the higher class
        if kwh <= 0:
            klass = "C"
        ranked.append(Ranked(account_id, index + 1, kwh, klass))
    return ranked


def abc_report(
    uow: UnitOfWork, *, start: datetime, end: datetime, a: Decimal, b: Decimal
) -> AbcReport:
    if end <= start:
        raise InvalidRequestError("`to` must be after `from`")
    if a + b > 100:
        raise InvalidRequestError("a + b must not exceed 100 (percent of accounts)")
    ranked = classify(consumption_by_account(uow, start, end), a, b)
    counts = {k: sum(1 for r in ranked if r.abc_class == k) for k in "ABC"}
    kwh = {k: sum((r.consumption_kwh for r in ranked if r.abc_class == k), ZERO) for k in "ABC"}
    return AbcReport(start, end, a, b, tuple(ranked), counts, kwh)


@dataclass(frozen=True, slots=True)
class Arrear:
    account_id: str
    currency: str
    status: str
    balance: Decimal
    in_arrears: bool
    spend_per_day: Decimal | None
    days_of_credit_left: Decimal | None


def arrears(
    uow: UnitOfWork, *, below: Decimal, now: datetime, window_days: int = 30
) -> list[Arrear]:
    """Accounts whose balance is at or below `below`, lowest first. Days of credit left =
    balance / average daily spend (deductions and standing charges) over the last
    `window_days`; none when nothing was spent, zero when the balance is not positive."""
    rows = uow.connection.execute(
        select(accounts.c.id, accounts.c.currency, accounts.c.status, accounts.c.balance)
    ).all()
    low = sorted((r for r in rows if r.balance <= below), key=lambda r: (r.balance, r.id))
    if not low:
        return []
    spent = {r.id: ZERO for r in low}
    window_start = now - timedelta(days=window_days)
    for account_id, amount in uow.connection.execute(
        select(ledger_entries.c.account_id, ledger_entries.c.amount).where(
            ledger_entries.c.account_id.in_(list(spent)),
            ledger_entries.c.kind.in_(BURN_KINDS),
            ledger_entries.c.effective_at >= window_start,
            ledger_entries.c.effective_at < now,
        )
    ):
        spent[account_id] -= amount
    result = []
    for row in low:
        per_day = (spent[row.id] / window_days).quantize(Decimal("0.0001"))
        if row.balance <= 0:
            days: Decimal | None = ZERO
        elif per_day > 0:
            days = (row.balance / per_day).quantize(Decimal("0.1"))
        else:
            days = None
        result.append(Arrear(row.id, row.currency, row.status, row.balance, row.balance < 0,
                             per_day if spent[row.id] > 0 else None, days))  # fmt: skip
    return result
