"""Complaints about one ledger entry: opened with an owner and a deadline, closed once.

Resolving with an adjustment posts it through `topups.adjust` in the same transaction: the
adjustment's reason names the dispute and `related_entry_id` the disputed entry, and the
dispute records the adjustment's entry id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import insert, select, update

from gateway.ledger.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway.ledger.posting import new_id
from gateway.ledger.topups import adjust
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import disputes, ledger_entries


class Outcome(StrEnum):
    RESOLVED = "resolved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Closed:
    dispute_id: str
    status: Outcome
    adjustment_entry_id: str | None


def open_dispute(
    uow: UnitOfWork, entry_id: str, *, complaint: str, owner: str, due_at: datetime,
    now: datetime,
) -> str:  # fmt: skip
    """Open a dispute about `entry_id`; returns its id."""
    account_id = uow.connection.execute(
        select(ledger_entries.c.account_id).where(ledger_entries.c.id == entry_id)
    ).scalar()
    if account_id is None:
        msg = f"ledger entry {entry_id!r} does not exist"
        raise NotFoundError(msg)
    if not complaint.strip() or not owner.strip():
        raise InvalidRequestError("a dispute needs a complaint and an owner")
    if due_at <= now:
        msg = f"due date {due_at.isoformat()} is not in the future"
        raise InvalidRequestError(msg)
    dispute_id = new_id()
    uow.connection.execute(
        insert(disputes).values(
            id=dispute_id, account_id=account_id, entry_id=entry_id, owner=owner.strip(),
            due_at=due_at, status="open", complaint=complaint, resolution=None,
            adjustment_entry_id=None, created_at=now, resolved_at=None,
        )
    )  # fmt: skip
    return dispute_id


def resolve_dispute(
    uow: UnitOfWork, dispute_id: str, *, outcome: Outcome, resolution: str,
    adjustment: Decimal | None, now: datetime,
) -> Closed:  # fmt: skip
    """Close an open dispute; a resolved one may carry an adjustment (+ credit, - debit)."""
    query = select(disputes).where(disputes.c.id == dispute_id)
    if uow.is_postgres:
        query = query.with_for_update()
    row = uow.connection.execute(query).first()
    if row is None:
        msg = f"dispute {dispute_id!r} does not exist"
        raise NotFoundError(msg)
    if row.status != "open":
        msg = f"dispute {dispute_id} is already {row.status}"
        raise ConflictError(msg)
    if not resolution.strip():
        raise InvalidRequestError("a resolution needs a text")
    entry_id = None
    if adjustment is not None:
        if outcome is not Outcome.RESOLVED:
            raise InvalidRequestError("a rejected dispute carries no adjustment")
        if adjustment == 0:
            raise InvalidRequestError("an adjustment of zero changes nothing; leave it out")
        reason = f"dispute {dispute_id}: {resolution}"
        entry_id = adjust(uow, row.account_id, adjustment, reason, now=now,
                          related_entry_id=row.entry_id).entry_id  # fmt: skip
    uow.connection.execute(
        update(disputes)
        .where(disputes.c.id == dispute_id)
        .values(
            status=outcome.value,
            resolution=resolution,
            adjustment_entry_id=entry_id,
            resolved_at=now,
        )
    )
    return Closed(dispute_id, outcome, entry_id)
