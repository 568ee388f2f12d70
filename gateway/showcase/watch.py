"""What happened since the last look: new ledger entries, alerts and relay command states,
read from the database (read-only transactions, so the gateway's writer never waits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, and_, or_, select

from gateway.storage.db import READ_ONLY
from gateway.storage.schema import accounts, alerts, ledger_entries, meter_commands

Kind = Literal["deduction", "idle", "top_up", "entry", "alert", "command", "disconnect",
               "reconnect", "command_failed"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Happening:
    kind: Kind
    text: str
    account_id: str | None = None
    meter_id: str | None = None


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%m-%d %H:%M")


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:.2f} {currency}"


def describe_entry(row: Any) -> Happening:
    """One line for a ledger entry: a deduction shows its readings, kWh, price and balance."""
    balance = _amount(row.balance_after, row.currency)
    if row.kind == "deduction":
        lines = row.details.get("lines", [])
        prices = sorted({Decimal(line["unit_price"]) for line in lines if line["kind"] == "energy"})
        price = " + ".join(f"{p:.2f}" if p == round(p, 2) else f"{p:f}" for p in prices)
        charged = _amount(-row.amount, row.currency)
        head = f"{row.meter_id} reading {row.curr_kwh} kWh at {_when(row.curr_ts)}:"
        if not row.energy_kwh:
            text = f"{head} nothing used, charged {charged}, balance {balance}"
            return Happening("idle", text, row.account_id, row.meter_id)
        text = (
            f"{head} {row.energy_kwh} kWh x {price} {row.currency}/kWh, charged {charged},"
            f" balance {balance}"
        )
        return Happening("deduction", text, row.account_id, row.meter_id)
    if row.kind == "top_up":
        text = (
            f"{_amount(row.amount, row.currency)} credited to {row.account_id}"
            f" (reference {row.external_ref}), balance {balance}"
        )
        return Happening("top_up", text, row.account_id)
    text = f"{row.kind} {_amount(row.amount, row.currency)} on {row.account_id}, balance {balance}"
    return Happening("entry", text, row.account_id)


def describe_command(row: Any, status_before: str | None) -> Happening | None:
    """A command line when a command appears or settles; None for intermediate states."""
    if status_before is None and row.status in {"pending", "sent"}:
        return Happening("command", f"{row.action} queued for {row.meter_id}: {row.reason}",
                         meter_id=row.meter_id)  # fmt: skip
    if row.status == "confirmed":
        if row.action == "relay_open":
            text = f"relay_open confirmed by {row.meter_id}: supply off, nothing more is drawn"
            return Happening("disconnect", text, meter_id=row.meter_id)
        if row.action == "relay_close":
            text = f"relay_close confirmed by {row.meter_id}: supply back on"
            return Happening("reconnect", text, meter_id=row.meter_id)
    if row.status in {"failed", "expired"}:
        text = f"{row.action} for {row.meter_id} {row.status}: {row.last_error}"
        return Happening("command_failed", text, meter_id=row.meter_id)
    return None


class LedgerWatch:
    """Remembers what it has shown: each account's last sequence, alerts, command states."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sequences: dict[str, int] = {}
        self._alerts: set[str] = set()
        self._commands: dict[str, str] = {}

    def poll(self) -> list[Happening]:
        with self._engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            if not self._sequences:
                ids = connection.execute(select(accounts.c.id)).scalars()
                self._sequences = dict.fromkeys(ids, 0)
            entries = list(connection.execute(self._new_entries()))
            raised = connection.execute(select(alerts).order_by(alerts.c.created_at)).all()
            commands = connection.execute(
                select(meter_commands).order_by(meter_commands.c.created_at)
            ).all()
        found = [describe_entry(row) for row in entries]
        for row in entries:
            self._sequences[row.account_id] = max(self._sequences[row.account_id], row.sequence)
        for row in raised:
            if row.id not in self._alerts:
                self._alerts.add(row.id)
                said = f"{row.kind.replace('_', ' ')} on {row.account_id}: {row.message}"
                found.append(Happening("alert", said, row.account_id))
        for row in commands:
            before = self._commands.get(row.id)
            if before != row.status and (news := describe_command(row, before)) is not None:
                found.append(news)
            self._commands[row.id] = row.status
        return found

    def _new_entries(self) -> Any:
        newer = [
            and_(ledger_entries.c.account_id == account_id, ledger_entries.c.sequence > sequence)
            for account_id, sequence in self._sequences.items()
        ]
        return (
            select(ledger_entries)
            .where(or_(*newer))
            .order_by(ledger_entries.c.recorded_at, ledger_entries.c.sequence)
        )
