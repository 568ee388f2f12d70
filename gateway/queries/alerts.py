"""Alerts raised by credit control, for operators to read and acknowledge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import alerts


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    account_id: str
    meter_id: str | None
    kind: str
    level: str | None
    message: str
    balance: Decimal | None
    entry_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def get_alert(uow: UnitOfWork, alert_id: str) -> AlertView:
    row = uow.connection.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        msg = f"alert {alert_id!r} does not exist"
        raise NotFoundError(msg)
    return _view(row)


def list_alerts(
    uow: UnitOfWork, *, account_id: str | None = None, kind: str | None = None,
    unacknowledged: bool = False, after: str | None = None, limit: int = 100,
) -> list[AlertView]:  # fmt: skip
    """Alerts oldest first, after the alert `after` (keyset on creation time, then id)."""
    query = select(alerts).order_by(alerts.c.created_at, alerts.c.id).limit(limit)
    if account_id is not None:
        query = query.where(alerts.c.account_id == account_id)
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    if unacknowledged:
        query = query.where(alerts.c.acknowledged_at.is_(None))
    if after is not None:
        cursor = get_alert(uow, after).created_at
        query = query.where(
            or_(
                alerts.c.created_at > cursor,
                and_(alerts.c.created_at == cursor, alerts.c.id > after),
            )
        )
    return [_view(row) for row in uow.connection.execute(query)]


def _view(row: Any) -> AlertView:
    return AlertView(
        row.id, row.account_id, row.meter_id, row.kind, row.level, row.message, row.balance,
        row.entry_id, row.created_at, row.acknowledged_at, row.acknowledged_by,
    )  # fmt: skip
