"""Accounts: create, read, list, balance, tariff changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Billing, NowDep, Reader, UowDep
from api.schemas import (
    AccountId,
    After,
    DecimalStr,
    Identifier,
    Instant,
    Kwh,
    Limit,
    Money,
    Page,
    Strict,
    page,
)
from gateway.ledger import operations
from gateway.queries import accounts as queries

router = APIRouter(tags=["accounts"])


class AccountIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "ACC-1001", "currency": "EUR", "tariff_id": "flat", "opening_balance": "20.00"}
    ]})  # fmt: skip
    id: Identifier
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
    tariff_id: Annotated[str, Field(min_length=1, max_length=64)]
    opening_balance: Money = Decimal(0)
    extra_kwh_per_month: Annotated[Kwh, Field(description="household allowance per tier")] = (
        Decimal(0)
    )


class TariffAssignmentOut(BaseModel):
    tariff_id: str
    effective_from: Instant


class AccountOut(BaseModel):
    id: str
    currency: str
    status: str
    balance: Money
    opening_balance: Money
    extra_kwh_per_month: DecimalStr
    last_sequence: int
    created_at: Instant
    tariffs: list[TariffAssignmentOut] = Field(description="tariff history, oldest first")


class BalanceOut(BaseModel):
    account_id: str
    balance: Money
    currency: str
    as_of: Instant
    last_sequence: int = Field(description="sequence of the newest ledger entry (0: none)")
    last_entry_at: Instant | None
    emergency_credit: Money = Field(description="emergency credit taken, not yet repaid")
    debt: Money
    protected: bool


class TariffChangeIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"tariff_id": "tou", "effective_from": "2024-07-01T00:00:00+00:00"}
    ]})  # fmt: skip
    tariff_id: Annotated[str, Field(min_length=1, max_length=64)]
    effective_from: Instant


def _out(view: queries.AccountView) -> AccountOut:
    return AccountOut.model_validate(view, from_attributes=True)


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
def create_account(body: AccountIn, uow: UowDep, now: NowDep, _: Billing) -> AccountOut:
    """Open a prepaid account on a tariff (which must exist, in the same currency)."""
    operations.open_account(
        uow, body.id, currency=body.currency, tariff_id=body.tariff_id, now=now,
        opening_balance=body.opening_balance, extra_kwh_per_month=body.extra_kwh_per_month,
    )  # fmt: skip
    created = queries.get_account(uow, body.id)
    uow.commit()
    return _out(created)


@router.get("/accounts", response_model=Page[AccountOut])
def list_accounts(
    uow: UowDep, _: Reader, after: After = None, limit: Limit = 100
) -> Page[AccountOut]:
    """Accounts in id order, keyset-paginated by id."""
    found = [_out(v) for v in queries.list_accounts(uow, after=after, limit=limit)]
    return page(found, limit, lambda a: a.id)


@router.get("/accounts/{account_id}", response_model=AccountOut)
def read_account(account_id: AccountId, uow: UowDep, _: Reader) -> AccountOut:
    return _out(queries.get_account(uow, account_id))


@router.get("/accounts/{account_id}/balance", response_model=BalanceOut)
def read_balance(account_id: AccountId, uow: UowDep, now: NowDep, _: Reader) -> BalanceOut:
    """The balance now, with emergency credit and debt outstanding."""
    view = queries.get_balance(uow, account_id, now=now)
    return BalanceOut.model_validate(view, from_attributes=True)


@router.post("/accounts/{account_id}/tariff", status_code=status.HTTP_201_CREATED,
             response_model=AccountOut)  # fmt: skip
def change_tariff(
    account_id: AccountId, body: TariffChangeIn, uow: UowDep, _: Billing
) -> AccountOut:
    """Move the account to another tariff from `effective_from` (not before consumption
    already charged)."""
    operations.change_tariff(uow, account_id, body.tariff_id, body.effective_from)
    changed = queries.get_account(uow, account_id)
    uow.commit()
    return _out(changed)
