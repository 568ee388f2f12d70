"""Appending entries to an account's ledger: sequence, balance and hash chain move together."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.core.deduction import CycleState
from gateway.ledger.codec import canonical_json, entry_hash
from gateway.storage.bulk import insert_rows, update_rows
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, ledger_entries


def new_id() -> str:
    """A random 128-bit id as 32 hex digits (uuid4's randomness without its object)."""
    return os.urandom(16).hex()


@dataclass(slots=True)
class AccountState:
    """An account row, locked for this transaction, and what this transaction appended."""

    id: str
    currency: str
    minor_unit: int
    balance: Decimal
    last_sequence: int
    last_hash: str
    cycle: CycleState | None
    extra_kwh_per_month: Decimal
    status: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any) -> AccountState:
        cycle = None
        if row.cycle_start is not None:
            cycle = CycleState(
                row.cycle_start, row.cycle_consumed_kwh, row.cycle_exact_charge, row.cycle_exact_tax
            )
        return cls(
            row.id, row.currency, row.minor_unit, row.balance, row.last_sequence, row.last_hash,
            cycle,
            row.extra_kwh_per_month, row.status,
        )  # fmt: skip

    def append(self, kind: str, amount: Decimal, at: datetime, recorded_at: datetime,
               **content: Any) -> dict[str, Any]:  # fmt: skip
        """Add an entry: next sequence, balance before/after, chained hash."""
        entry: dict[str, Any] = {
            "id": new_id(),
            "account_id": self.id,
            "sequence": self.last_sequence + 1,
            "kind": kind,
            "amount": amount,
            "balance_before": self.balance,
            "balance_after": self.balance + amount,
            "currency": self.currency,
            "effective_at": at.astimezone(UTC),
            "recorded_at": recorded_at,
            "meter_id": None,
            "prev_reading_id": None,
            "reading_id": None,
            "prev_ts": None,
            "prev_kwh": None,
            "curr_ts": None,
            "curr_kwh": None,
            "energy_kwh": None,
            "tariff_version": None,
            "details": {},
            "external_ref": None,
            "reverses_entry_id": None,
            **content,
        }
        if not isinstance(entry["details"], str):  # encoded once: for the hash and the column
            entry["details"] = canonical_json(entry["details"])
        entry["prev_hash"] = self.last_hash
        entry["hash"] = entry_hash(entry, self.last_hash)
        self.last_sequence += 1
        self.last_hash = entry["hash"]
        self.balance = entry["balance_after"]
        self.entries.append(entry)
        return entry


def flush(uow: UnitOfWork, states: list[AccountState]) -> None:
    """Write the appended entries and the accounts' new balance, sequence, hash and cycle."""
    rows = [entry for state in states for entry in state.entries]
    if not rows:
        return
    insert_rows(uow.connection, ledger_entries, rows)
    changed = [state for state in states if state.entries]
    update_rows(
        uow.connection,
        accounts,
        "id",
        [
            {
                "id": s.id,
                "balance": s.balance,
                "last_sequence": s.last_sequence,
                "last_hash": s.last_hash,
                "cycle_start": s.cycle.start if s.cycle else None,
                "cycle_consumed_kwh": s.cycle.consumed_kwh if s.cycle else Decimal(0),
                "cycle_exact_charge": s.cycle.exact_charge if s.cycle else Decimal(0),
                "cycle_exact_tax": s.cycle.exact_tax if s.cycle else Decimal(0),
            }
            for s in changed
        ],
    )
    for state in changed:
        state.entries = []
