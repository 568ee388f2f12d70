"""Disputes: a complaint about one ledger entry, with an owner, a deadline and a resolution."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from api.auth import Principal, Role
from api.deps import NowDep, Reader, UowDep, require
from api.views import DisputeIn, DisputeListOut, DisputeOut, ResolveIn
from gateway.ledger.disputes import Outcome, open_dispute, resolve_dispute
from gateway.queries.disputes import get_dispute, list_disputes

router = APIRouter(tags=["disputes"])
Handler = Annotated[Principal, Depends(require(Role.BILLING, Role.OPERATOR))]
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


@router.post("/entries/{entry_id}/disputes", status_code=status.HTTP_201_CREATED,
             response_model=DisputeOut)  # fmt: skip
def create_dispute(
    entry_id: Id, body: DisputeIn, uow: UowDep, now: NowDep, _: Handler
) -> DisputeOut:
    """Open a dispute about a ledger entry (billing or operator)."""
    dispute_id = open_dispute(uow, entry_id, complaint=body.complaint, owner=body.owner,
                              due_at=body.due_at, now=now)  # fmt: skip
    created = DisputeOut.model_validate(get_dispute(uow, dispute_id, now=now))
    uow.commit()
    return created


@router.get("/disputes", response_model=DisputeListOut)
def read_disputes(
    *,
    uow: UowDep, now: NowDep, _: Reader,
    status: Annotated[str | None, Query(pattern="^(open|resolved|rejected)$")] = None,
    overdue: Annotated[bool | None, Query(description="true: open and past due")] = None,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisputeListOut:  # fmt: skip
    """Disputes, the earliest due first."""
    found = list_disputes(uow, now=now, status=status, overdue=overdue, account_id=account_id,
                          limit=limit)  # fmt: skip
    return DisputeListOut(disputes=[DisputeOut.model_validate(d) for d in found])


@router.get("/disputes/{dispute_id}", response_model=DisputeOut)
def read_dispute(dispute_id: Id, uow: UowDep, now: NowDep, _: Reader) -> DisputeOut:
    return DisputeOut.model_validate(get_dispute(uow, dispute_id, now=now))


@router.post("/disputes/{dispute_id}/resolve", response_model=DisputeOut)
def resolve(dispute_id: Id, body: ResolveIn, uow: UowDep, now: NowDep, _: Handler) -> DisputeOut:
    """Close an open dispute as resolved or rejected. A resolution with `adjustment` posts an
    adjustment entry (+ credit, - debit) whose reason names the dispute; 409 if not open."""
    resolve_dispute(uow, dispute_id, outcome=Outcome(body.status), resolution=body.resolution,
                    adjustment=body.adjustment, now=now)  # fmt: skip
    closed = DisputeOut.model_validate(get_dispute(uow, dispute_id, now=now))
    uow.commit()
    return closed
