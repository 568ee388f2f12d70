"""Disputes as the API shows them: by id, or filtered by status and overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import disputes


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str
    account_id: str
    entry_id: str
    owner: str
    due_at: datetime
    status: str
    overdue: bool
    complaint: str
    resolution: str | None
    adjustment_entry_id: str | None
    created_at: datetime
    resolved_at: datetime | None


def _dispute(row: Any, now: datetime) -> Dispute:
    return Dispute(
        row.id, row.account_id, row.entry_id, row.owner, row.due_at, row.status,
        row.status == "open" and row.due_at < now, row.complaint, row.resolution,
        row.adjustment_entry_id, row.created_at, row.resolved_at,
    )  # fmt: skip


def get_dispute(uow: UnitOfWork, dispute_id: str, *, now: datetime) -> Dispute:
    row = uow.connection.execute(select(disputes).where(disputes.c.id == dispute_id)).first()
    if row is None:
        msg = f"dispute {dispute_id!r} does not exist"
        raise NotFoundError(msg)
    return _dispute(row, now)


def list_disputes(
    uow: UnitOfWork, *, now: datetime, status: str | None = None, overdue: bool | None = None,
    account_id: str | None = None, limit: int = 100,
) -> list[Dispute]:  # fmt: skip
    """Oldest due first. `overdue=True`: open and past due; `overdue=False`: all others."""
    query = select(disputes).order_by(disputes.c.due_at, disputes.c.id).limit(limit)
    if status is not None:
        query = query.where(disputes.c.status == status)
    if account_id is not None:
        query = query.where(disputes.c.account_id == account_id)
    if overdue is True:
        query = query.where(disputes.c.status == "open", disputes.c.due_at < now)
    elif overdue is False:
        query = query.where((disputes.c.status != "open") | (disputes.c.due_at >= now))
    return [_dispute(row, now) for row in uow.connection.execute(query)]
