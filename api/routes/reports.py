"""Reports: ABC classification by consumption, and accounts in or near arrears."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.auth import Principal, Role
from api.deps import NowDep, UowDep, require
from api.views import AbcOut, ArrearsOut
from gateway.queries import reports

router = APIRouter(tags=["reports"])
Analyst = Annotated[Principal, Depends(require(Role.BILLING, Role.OPERATOR, Role.READ_ONLY))]
Percent = Annotated[Decimal, Query(ge=0, le=100, max_digits=6, decimal_places=3)]


@router.get("/reports/abc", response_model=AbcOut)
def abc(
    uow: UowDep, _: Analyst,
    start: Annotated[AwareDatetime, Query(alias="from", examples=["2024-06-01T00:00:00Z"])],
    end: Annotated[AwareDatetime, Query(alias="to", examples=["2024-07-01T00:00:00Z"])],
    a: Percent = Decimal(5), b: Percent = Decimal(15),
) -> AbcOut:  # fmt: skip
    """Accounts ranked by kWh charged in [from, to): A = top `a` % of accounts, B = the next
    `b` %, C = the rest. Ties: see `rule` in the response."""
    report = reports.abc_report(uow, start=start, end=end, a=a, b=b)
    return AbcOut.model_validate(report)


@router.get("/reports/arrears", response_model=ArrearsOut)
def arrears(
    uow: UowDep, now: NowDep, _: Analyst,
    below: Annotated[Decimal, Query(max_digits=18, decimal_places=4, examples=["5.00"],
                                    description="balance at or below this")] = Decimal(0),
    window_days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> ArrearsOut:  # fmt: skip
    """Accounts with a balance at or below `below` (default 0: in arrears or at zero), lowest
    first, with the daily spend over the last `window_days` and days of credit left."""
    found = reports.arrears(uow, below=below, now=now, window_days=window_days)
    return ArrearsOut.model_validate(
        {"below": below, "window_days": window_days, "accounts": found}, from_attributes=True
    )
