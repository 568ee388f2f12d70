"""Accounts: create, read, balance."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import Billing, NowDep, Reader, UowDep
from gateway.ledger import admin
from gateway.storage.schema import accounts

router = APIRouter(tags=["accounts"])
AccountId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Money = Annotated[Decimal, Field(decimal_places=4, max_digits=18)]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"id": "ACC-1001", "currency": "EUR", "tariff_id": "flat", "opening_balance": "20.00"}
    ]})  # fmt: skip
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    tariff_id: Annotated[str, Field(min_length=1, max_length=64)]
    opening_balance: Money = Decimal(0)
    extra_kwh_per_month: Annotated[Decimal, Field(ge=0, decimal_places=3, max_digits=12)] = Decimal(
        0
    )


class AccountOut(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="strings")
    id: str
    currency: str
    status: str
    balance: Annotated[Decimal, Field(description="decimal string")]
    opening_balance: Decimal
    last_sequence: int


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
def create_account(body: AccountIn, uow: UowDep, now: NowDep, _: Billing) -> AccountOut:
    admin.create_account(
        uow, body.id, currency=body.currency, tariff_id=body.tariff_id, now=now,
        opening_balance=body.opening_balance, extra_kwh_per_month=body.extra_kwh_per_month,
    )  # fmt: skip
    uow.commit()
    return read_account(body.id, uow, _)


@router.get("/accounts/{account_id}", response_model=AccountOut)
def read_account(account_id: AccountId, uow: UowDep, _: Reader) -> AccountOut:
    from gateway.ledger.errors import NotFoundError  # noqa: PLC0415

    row = uow.connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    return AccountOut(
        id=row.id, currency=row.currency, status=row.status, balance=row.balance,
        opening_balance=row.opening_balance, last_sequence=row.last_sequence,
    )  # fmt: skip
