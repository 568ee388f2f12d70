"""Top-ups, idempotent by the payer's reference; reversals and adjustments as new entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from gateway.core.credit import (
    EmergencyCreditRefusedError,
    EmergencyCreditTerms,
    grant_emergency_credit,
)
from gateway.ledger.controls import (
    Actions,
    ControlPolicy,
    credit_with_controls,
    load_controls,
    relays_and_busy,
)
from gateway.ledger.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway.ledger.posting import AccountState, flush
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, ledger_entries, top_ups


@dataclass(frozen=True, slots=True)
class Posted:
    """A posted (or, for a retried request, previously posted) credit or correction."""

    entry_id: str
    account_id: str
    sequence: int
    amount: Decimal
    balance_after: Decimal
    replayed: bool


def lock_account(uow: UnitOfWork, account_id: str) -> AccountState:
    query = select(accounts).where(accounts.c.id == account_id)
    if uow.is_postgres:
        query = query.with_for_update()
    row = uow.connection.execute(query).first()
    if row is None:
        msg = f"account {account_id!r} does not exist"
        raise NotFoundError(msg)
    return AccountState.from_row(row)


def _check_money(amount: Decimal, state: AccountState, field: str) -> None:
    if not amount.is_finite() or amount.as_tuple().exponent < -state.minor_unit:  # type: ignore[operator]
        msg = f"{field} {amount} is not a whole number of {state.currency} minor units"
        raise InvalidRequestError(msg)


def top_up(
    uow: UnitOfWork, account_id: str, amount: Decimal, reference: str, *, now: datetime,
    policy: ControlPolicy | None = None,
) -> Posted:  # fmt: skip
    """Credit `amount`. The same reference and amount again returns the same entry; the same
    reference with another amount is refused.

    With a credit-control `policy`, the top-up first repays emergency credit and recovers
    debt (a share with a cap, as separate entries), re-arms alerts, and queues reconnection.
    """
    if not reference.strip():
        raise InvalidRequestError("reference must not be empty")
    state = lock_account(uow, account_id)
    _check_money(amount, state, "amount")
    if amount <= 0:
        msg = f"amount must be positive, got {amount}"
        raise InvalidRequestError(msg)
    earlier = uow.connection.execute(
        select(top_ups.c.amount, ledger_entries)
        .join(ledger_entries, ledger_entries.c.id == top_ups.c.entry_id)
        .where(top_ups.c.account_id == account_id, top_ups.c.reference == reference)
    ).first()
    if earlier is not None:
        if earlier.amount != amount:
            msg = (
                f"top-up reference {reference!r} was already used for {earlier.amount}"
                f" {state.currency}, not {amount}"
            )
            raise ConflictError(msg)
        return Posted(earlier.id, account_id, earlier.sequence, earlier.amount,
                      earlier.balance_after, replayed=True)  # fmt: skip
    balance_before = state.balance
    entry = state.append("top_up", amount, now, now, external_ref=reference)
    if policy is not None:
        credit_with_controls(uow, state, policy, now=now, top_up_entry=entry,
                             balance_before=balance_before)  # fmt: skip
    flush(uow, [state])
    uow.connection.execute(
        insert(top_ups).values(
            account_id=account_id,
            reference=reference,
            amount=amount,
            entry_id=entry["id"],
            created_at=now,
        )
    )
    return _posted(entry)


def reverse_entry(uow: UnitOfWork, entry_id: str, reason: str, *, now: datetime) -> Posted:
    """Post the opposite of an entry. A ledger row is never edited; an entry is reversed once."""
    original = _entry(uow, entry_id)
    state = lock_account(uow, original.account_id)
    already = uow.connection.execute(
        select(ledger_entries.c.id).where(ledger_entries.c.reverses_entry_id == entry_id)
    ).first()
    if already is not None:
        msg = f"entry {entry_id} was already reversed by {already.id}"
        raise ConflictError(msg)
    if original.kind == "reversal":
        raise InvalidRequestError("a reversal is not reversed; post an adjustment instead")
    entry = state.append(
        "reversal", -original.amount, now, now, reverses_entry_id=entry_id,
        meter_id=original.meter_id, details={"reason": reason, "reversed_kind": original.kind},
    )  # fmt: skip
    flush(uow, [state])
    return _posted(entry)


def adjust(
    uow: UnitOfWork, account_id: str, amount: Decimal, reason: str, *, now: datetime,
    related_entry_id: str | None = None,
) -> Posted:  # fmt: skip
    """A correction by a person: credit (+) or debit (-) with the reason on record."""
    state = lock_account(uow, account_id)
    _check_money(amount, state, "amount")
    if not reason.strip():
        raise InvalidRequestError("an adjustment needs a reason")
    if related_entry_id is not None:
        _entry(uow, related_entry_id)
    details = {"reason": reason, "related_entry_id": related_entry_id}
    entry = state.append("adjustment", amount, now, now, details=details)
    flush(uow, [state])
    return _posted(entry)


def _entry(uow: UnitOfWork, entry_id: str) -> Any:
    row = uow.connection.execute(
        select(ledger_entries).where(ledger_entries.c.id == entry_id)
    ).first()
    if row is None:
        msg = f"ledger entry {entry_id!r} does not exist"
        raise NotFoundError(msg)
    return row


def _posted(entry: dict[str, Any]) -> Posted:
    return Posted(entry["id"], entry["account_id"], entry["sequence"], entry["amount"],
                  entry["balance_after"], replayed=False)  # fmt: skip


def take_emergency_credit(
    uow: UnitOfWork, account_id: str, *, terms: EmergencyCreditTerms, now: datetime,
    policy: ControlPolicy,
) -> Posted:  # fmt: skip
    """Lend the account emergency credit on request (repaid from the next top-ups)."""
    state = lock_account(uow, account_id)
    controls = load_controls(uow, [account_id])[account_id]
    try:
        amount = grant_emergency_credit(
            terms, balance=state.balance, outstanding=controls.emergency_credit
        )
    except EmergencyCreditRefusedError as error:
        raise ConflictError(f"emergency credit refused: {error.reason}") from error
    before = state.balance
    reason = "emergency credit on request, repaid from the next top-ups"
    entry = state.append("emergency_credit", amount, now, now, details={"reason": reason})
    controls.emergency_credit += amount
    actions = Actions(policy, now)
    actions.touched[account_id] = controls
    relays, busy = relays_and_busy(uow, [account_id])
    actions.balance_moved(state, controls, before, is_credit=False, relays=relays[account_id],
                          busy_meters=busy, entry_id=entry["id"])  # fmt: skip
    flush(uow, [state])
    actions.write(uow)
    return _posted(entry)
