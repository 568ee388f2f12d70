"""`GET /v1/dashboard/summary`: the operator dashboard's overview in one request."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import Role
from api.deps import NowDep, Reader, UowDep
from api.routes.alerts import AlertOut
from api.schemas import DecimalStr, Instant, Kwh, Money
from gateway.queries import dashboard as queries

router = APIRouter(tags=["dashboard"])
ACKNOWLEDGERS = {Role.ADMIN, Role.OPERATOR}  # as POST /v1/alerts/{id}/acknowledge admits


class MeterStatusOut(BaseModel):
    id: str
    account_id: str
    serial: str
    online: bool = Field(description="newest reading within offline_after_intervals intervals")
    relay: str = Field(description="relay state as last confirmed: closed | open")
    expected_interval_s: int
    last_reading_at: Instant | None
    last_reading_kwh: Kwh | None
    commissioning_status: str = Field(description="not_commissioned | passed | failed")


class AccountStatusOut(BaseModel):
    id: str
    currency: str
    status: str
    balance: Money
    days_of_credit_left: DecimalStr | None = Field(
        description="balance / average daily charge this billing cycle, to 0.1 rounded down; "
        "null without consumption in the cycle"
    )
    emergency_credit: Money = Field(description="emergency credit taken, not yet repaid")
    debt: Money
    protected: bool
    last_sequence: int = Field(description="sequence of the newest ledger entry (0: none)")


class SummaryOut(BaseModel):
    as_of: Instant
    role: str = Field(description="the caller's role")
    can_acknowledge: bool = Field(description="whether the caller may acknowledge alerts")
    offline_after_intervals: int
    meters_total: int
    accounts_total: int
    unacknowledged_alerts: int
    meters: list[MeterStatusOut] = Field(description="in id order, at most `limit`")
    accounts: list[AccountStatusOut] = Field(description="in id order, at most `limit`")
    alerts: list[AlertOut] = Field(description="unacknowledged first, then newest first")


@router.get("/dashboard/summary", response_model=SummaryOut)
def read_summary(
    *, uow: UowDep, now: NowDep, caller: Reader,
    limit: Annotated[int, Query(ge=1, le=1000, description="meters and accounts")] = 500,
    alert_limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offline_after_intervals: Annotated[int, Query(ge=1, le=1000)] = (
        queries.OFFLINE_AFTER_INTERVALS
    ),
) -> SummaryOut:  # fmt: skip
    """Meters (online, relay, last reading), accounts (balance, days of credit left,
    emergency credit, debt) and recent alerts, for the operator dashboard at `/dashboard`."""
    found = queries.summary(uow, now=now, limit=limit, alert_limit=alert_limit,
                            offline_after_intervals=offline_after_intervals)  # fmt: skip
    return SummaryOut.model_validate(
        {**asdict(found), "role": caller.role, "can_acknowledge": caller.role in ACKNOWLEDGERS}
    )
