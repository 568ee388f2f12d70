"""Ledger pages per account and per meter, as JSON or CSV (one row per priced line)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import AwareDatetime

from api.deps import Reader, UowDep
from api.render import ledger_csv
from api.views import AccountLedgerOut, EntryOut, Kind, MeterLedgerOut
from gateway.queries.ledger import Filters, Page, account_ledger, meter_ledger

router = APIRouter(tags=["ledger"])
AccountId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["ACC-1001"])]
MeterId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["M-1"])]
Limit = Annotated[int, Query(ge=1, le=500, description="entries per page")]
AfterSequence = Annotated[
    int, Query(ge=0, le=2_147_483_647, description="return entries after this sequence")
]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of a page")]
Accept = Annotated[str | None, Header(include_in_schema=False)]
CSV = "text/csv; charset=utf-8"
CSV_EXAMPLE = "entry_id,sequence,kind,...,line_no,line_kind,...,line_amount,line_tax\r\n"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}}}
}


def ledger_filters(
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="effective_at >=")
    ] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="effective_at <")] = None,
    kind: Annotated[list[Kind] | None, Query(description="repeat for several kinds")] = None,
) -> Filters:
    return Filters(start, end, tuple(kind or ()))


FiltersDep = Annotated[Filters, Depends(ledger_filters)]


def _csv(page: Page, next_url: str | None) -> Response:
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return Response(ledger_csv(page.entries), media_type=CSV, headers=headers)


def _account(request: Request, page: Page, account_id: str) -> tuple[str | None, AccountLedgerOut]:
    after = page.next_after_sequence
    url = None if after is None else str(request.url.include_query_params(after_sequence=after))
    body = AccountLedgerOut(
        account_id=account_id, entries=[EntryOut.model_validate(e) for e in page.entries],
        next_after_sequence=after, next=url,
    )  # fmt: skip
    return url, body


@router.get("/accounts/{account_id}/ledger", response_model=AccountLedgerOut,
            responses=CSV_RESPONSE)  # fmt: skip
def read_account_ledger(
    *, account_id: AccountId, request: Request, uow: UowDep, _: Reader, filters: FiltersDep,
    accept: Accept = None, after_sequence: AfterSequence = 0, limit: Limit = 50,
) -> Any:  # fmt: skip
    """Oldest first, keyset-paginated by sequence: stable while new entries arrive. Every
    deduction shows its readings, kWh, priced lines, tariff version, rounding and balances.
    Send `Accept: text/csv` for CSV (see `/ledger.csv`)."""
    page = account_ledger(uow, account_id, filters=filters, after_sequence=after_sequence,
                          limit=limit)  # fmt: skip
    url, body = _account(request, page, account_id)
    if accept and "text/csv" in accept:
        return _csv(page, url)
    return body


@router.get("/accounts/{account_id}/ledger.csv", response_class=Response, responses=CSV_RESPONSE)
def read_account_ledger_csv(
    *, account_id: AccountId, request: Request, uow: UowDep, _: Reader, filters: FiltersDep,
    after_sequence: AfterSequence = 0, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:  # fmt: skip
    """One row per priced line with the entry's columns repeated (an entry without lines is
    one row, line columns empty). More pages: the `Link: <...>; rel="next"` header."""
    page = account_ledger(uow, account_id, filters=filters, after_sequence=after_sequence,
                          limit=limit)  # fmt: skip
    return _csv(page, _account(request, page, account_id)[0])


@router.get("/meters/{meter_id}/ledger", response_model=MeterLedgerOut, responses=CSV_RESPONSE)
def read_meter_ledger(
    *, meter_id: MeterId, request: Request, uow: UowDep, _: Reader, filters: FiltersDep,
    accept: Accept = None, cursor: Cursor = None, limit: Limit = 50,
) -> Any:  # fmt: skip
    """Entries about one meter ordered by (effective_at, id), paginated by an opaque cursor.
    Send `Accept: text/csv` for CSV."""
    page = meter_ledger(uow, meter_id, filters=filters, cursor=cursor, limit=limit)
    nxt = page.next_cursor
    url = None if nxt is None else str(request.url.include_query_params(cursor=nxt))
    if accept and "text/csv" in accept:
        return _csv(page, url)
    return MeterLedgerOut(
        meter_id=meter_id, entries=[EntryOut.model_validate(e) for e in page.entries],
        next_cursor=nxt, next=url,
    )  # fmt: skip
