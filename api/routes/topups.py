"""Money in and corrections: top-ups (exactly once by Idempotency-Key), reversals,
emergency credit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Billing, NowDep, Operator, UowDep
from api.policy import PolicyDep
from api.schemas import AccountId, Money, PositiveMoney, Strict
from gateway.core.credit import EmergencyCreditTerms
from gateway.ledger import topups
from gateway.ledger.controls import ControlPolicy

router = APIRouter(tags=["top-ups"])
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
        description="The payer's unique reference for this payment (printable ASCII, no "
        "spaces). A retry with the same key and amount returns the original entry.",
        examples=["pay-2024-06-01-000123"],
    ),
]  # fmt: skip
EntryId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="ledger entry id")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class TopUpIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "20.00"}
    ]})  # fmt: skip
    amount: PositiveMoney


class PostedOut(BaseModel):
    """A posted ledger entry (for a replayed top-up: the one posted the first time)."""

    entry_id: str
    account_id: str
    sequence: int
    amount: Money = Field(description="signed: credit +, debit -")
    balance_after: Money = Field(description="the balance right after this entry")


class TopUpOut(PostedOut):
    reference: str = Field(description="the Idempotency-Key")
    replayed: bool = Field(description="true when this key was already used")


class ReversalIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "payment charged back by the bank, ticket 8812"}
    ]})  # fmt: skip
    reason: Reason


class EmergencyCreditIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"amount": "5.00", "available_below": "1.00"}
    ]})  # fmt: skip
    amount: Annotated[PositiveMoney, Field(description="the loan, repaid from the next top-ups")]
    available_below: Annotated[Money, Field(description="granted only below this balance")]


@router.post(
    "/accounts/{account_id}/top-ups", status_code=status.HTTP_201_CREATED,
    response_model=TopUpOut,
    responses={200: {"description": "a retry: the original entry, `Idempotent-Replayed: true`",
                     "model": TopUpOut},
               409: {"description": "the key was already used for another amount"}},
)  # fmt: skip
def create_top_up(
    *, account_id: AccountId, body: TopUpIn, key: IdempotencyKey, response: Response,
    uow: UowDep, now: NowDep, policy: PolicyDep, _: Billing,
) -> TopUpOut:  # fmt: skip
    """Credit the account, exactly once per `Idempotency-Key`: 201 the first time; 200 with
    the same entry and `Idempotent-Replayed: true` on a retry; 409 when the key was used for
    another amount. With credit control configured, the top-up first repays emergency credit
    and debt (separate entries) and queues reconnection."""
    posted = topups.top_up(uow, account_id, body.amount, key, now=now, policy=policy)
    uow.commit()
    if posted.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return TopUpOut(
        entry_id=posted.entry_id, account_id=posted.account_id, sequence=posted.sequence,
        amount=posted.amount, balance_after=posted.balance_after, reference=key,
        replayed=posted.replayed,
    )  # fmt: skip


@router.post("/entries/{entry_id}/reversal", status_code=status.HTTP_201_CREATED,
             response_model=PostedOut)  # fmt: skip
def reverse_entry(
    entry_id: EntryId, body: ReversalIn, uow: UowDep, now: NowDep, _: Billing
) -> PostedOut:
    """Post the opposite of an entry as a new entry (entries are never edited). An entry is
    reversed at most once (409 after that); a reversal is not reversed."""
    posted = topups.reverse_entry(uow, entry_id, body.reason, now=now)
    uow.commit()
    return PostedOut.model_validate(posted, from_attributes=True)


@router.post("/accounts/{account_id}/emergency-credit", status_code=status.HTTP_201_CREATED,
             response_model=PostedOut)  # fmt: skip
def take_emergency_credit(
    account_id: AccountId, body: EmergencyCreditIn, uow: UowDep, now: NowDep,
    policy: PolicyDep, _: Operator,
) -> PostedOut:  # fmt: skip
    """Lend emergency credit at the customer's request: granted while the balance is below
    `available_below` and no earlier emergency credit is outstanding (else 409)."""
    terms = EmergencyCreditTerms(amount=body.amount, available_below=body.available_below)
    posted = topups.take_emergency_credit(uow, account_id, terms=terms, now=now,
                                          policy=policy or ControlPolicy())  # fmt: skip
    uow.commit()
    return PostedOut.model_validate(posted, from_attributes=True)
