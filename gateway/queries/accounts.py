"""Accounts as the API shows them: the account, its tariff history, its balance and controls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import account_controls, account_tariffs, accounts, ledger_entries

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TariffAssignment:
    tariff_id: str
    effective_from: datetime


@dataclass(frozen=True, slots=True)
class AccountView:
    id: str
    currency: str
    status: str
    balance: Decimal
    opening_balance: Decimal
    extra_kwh_per_month: Decimal
    last_sequence: int
    created_at: datetime
    tariffs: tuple[TariffAssignment, ...]


@dataclass(frozen=True, slots=True)
class BalanceView:
    account_id: str
    balance: Decimal
    currency: str
    as_of: datetime
    last_sequence: int
    last_entry_at: datetime | None
    emergency_credit: Decimal
    debt: Decimal
    protected: bool


def get_account(uow: UnitOfWork, account_id: str) -> AccountView:
    """The account, or NotFoundError."""
    found = list_accounts(uow, ids=[account_id])
    if not found:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    return found[0]


def list_accounts(
    uow: UnitOfWork, *, after: str | None = None, limit: int = 100, ids: list[str] | None = None
) -> list[AccountView]:
    """Accounts in id order, those after `after` (keyset pagination), at most `limit`."""
    query = select(accounts).order_by(accounts.c.id).limit(limit)
    if after is not None:
        query = query.where(accounts.c.id > after)
    if ids is not None:
        query = query.where(accounts.c.id.in_(ids))
    rows = uow.connection.execute(query).all()
    history: dict[str, list[TariffAssignment]] = {row.id: [] for row in rows}
    assigned = uow.connection.execute(
        select(account_tariffs)
        .where(account_tariffs.c.account_id.in_(list(history)))
        .order_by(account_tariffs.c.account_id, account_tariffs.c.effective_from)
    )
    for row in assigned:
        history[row.account_id].append(TariffAssignment(row.tariff_id, row.effective_from))
    return [
        AccountView(
            row.id,
            row.currency,
            row.status,
            row.balance,
            row.opening_balance,
            row.extra_kwh_per_month,
            row.last_sequence,
            row.created_at,
            tuple(history[row.id]),
        )
        for row in rows
    ]


def get_balance(uow: UnitOfWork, account_id: str, *, now: datetime) -> BalanceView:
    """The balance as of `now`, with the emergency credit and debt outstanding."""
    row = uow.connection.execute(
        select(
            accounts.c.balance,
            accounts.c.currency,
            accounts.c.last_sequence,
            account_controls.c.emergency_credit,
            account_controls.c.debt,
            account_controls.c.protected,
        )
        .outerjoin(account_controls, account_controls.c.account_id == accounts.c.id)
        .where(accounts.c.id == account_id)
    ).first()
    if row is None:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    last_entry_at = uow.connection.execute(
        select(ledger_entries.c.recorded_at).where(
            ledger_entries.c.account_id == account_id,
            ledger_entries.c.sequence == row.last_sequence,
        )
    ).scalar_one_or_none()
    return BalanceView(
        account_id, row.balance, row.currency, now, row.last_sequence, last_entry_at,
        row.emergency_credit if row.emergency_credit is not None else ZERO,
        row.debt if row.debt is not None else ZERO, bool(row.protected),
    )  # fmt: skip
