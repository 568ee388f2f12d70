"""Alerts: list (filter by account, kind, unacknowledged) and acknowledge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import NowDep, Operator, Reader, UowDep
from api.schemas import ID_PATTERN, After, Instant, Limit, Money, Page, page
from gateway.core.alerts import AlertKind
from gateway.ledger import operations
from gateway.queries import alerts as queries

router = APIRouter(tags=["alerts"])
AlertId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="alert id")]


class AlertOut(BaseModel):
    id: str
    account_id: str
    meter_id: str | None
    kind: AlertKind
    level: str | None = Field(description="the warning level crossed, for low-credit alerts")
    message: str
    balance: Money | None
    entry_id: str | None
    created_at: Instant
    acknowledged_at: Instant | None
    acknowledged_by: str | None = Field(description="name of the API key that acknowledged")


def _out(view: queries.AlertView) -> AlertOut:
    return AlertOut.model_validate(view, from_attributes=True)


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    *, uow: UowDep, _: Reader,
    account_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    kind: AlertKind | None = None,
    unacknowledged: Annotated[bool, Query(description="only those not yet acknowledged")] = False,
    after: After = None,
    limit: Limit = 100,
) -> Page[AlertOut]:  # fmt: skip
    """Alerts oldest first, keyset-paginated (`after`: the last alert id of a page)."""
    found = queries.list_alerts(
        uow, account_id=account_id, kind=kind, unacknowledged=unacknowledged, after=after,
        limit=limit,
    )  # fmt: skip
    return page([_out(v) for v in found], limit, lambda a: a.id)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: AlertId, uow: UowDep, now: NowDep, operator: Operator) -> AlertOut:
    """Acknowledge an alert; acknowledging it again keeps the first acknowledgement."""
    operations.acknowledge_alert(uow, alert_id, by=operator.name, now=now)
    acknowledged = queries.get_alert(uow, alert_id)
    uow.commit()
    return _out(acknowledged)
