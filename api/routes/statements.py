"""Monthly statements per account: JSON, and printable HTML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from api.deps import Reader, UowDep
from api.render import statement_html
from api.views import StatementOut
from gateway.queries.statements import monthly_statement

router = APIRouter(tags=["statements"])
AccountId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["ACC-1001"])]
Month = Annotated[
    str,
    Path(pattern=r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$", examples=["2024-06"],
         description="calendar month in the account tariff's timezone"),
]  # fmt: skip


# Before the JSON route: "{month}" alone would also match "2024-06.html".
@router.get("/accounts/{account_id}/statements/{month}.html", response_class=HTMLResponse)
def read_statement_html(account_id: AccountId, month: Month, uow: UowDep, _: Reader) -> str:
    """The statement as a printable page (print it, or save it as PDF from the browser)."""
    return statement_html(monthly_statement(uow, account_id, month))


@router.get("/accounts/{account_id}/statements/{month}", response_model=StatementOut)
def read_statement(account_id: AccountId, month: Month, uow: UowDep, _: Reader) -> StatementOut:
    """Opening balance, top-ups, every deduction with readings and prices, standing charges,
    other entries, closing balance, and the check line `opening + credits - debits = closing`.
    Month boundaries are local midnights in the account tariff's timezone; an entry belongs
    to the month it is effective in (a deduction: its reading time)."""
    return StatementOut.model_validate(monthly_statement(uow, account_id, month))
