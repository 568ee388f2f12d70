"""`ledger verify`: prove every account's ledger is whole, chained and recomputable."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway.core.deduction import Deduction, MeterReading
from gateway.core.errors import CoreError
from gateway.core.rating import rate_interval, rate_standing_charge
from gateway.core.tariff import Tariff
from gateway.ledger.codec import GENESIS_HASH, cycle_from_json, deduction_details, entry_hash
from gateway.ledger.errors import NotFoundError
from gateway.ledger.tariffs import load_tariff
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import accounts, ledger_entries, meters, readings

RATED = frozenset({"deduction", "standing_charge"})  # entries that move the billing cycle


@dataclass(frozen=True, slots=True)
class Violation:
    account_id: str
    sequence: int | None
    entry_id: str | None
    rule: str
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.sequence} ({self.entry_id})" if self.entry_id else "account row"
        return f"account {self.account_id}, {where}: {self.rule}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Report:
    accounts: int
    entries: int
    deductions_recomputed: int
    violations: tuple[Violation, ...]


def verify_ledger(uow: UnitOfWork, account_ids: list[str] | None = None) -> Report:
    """Check every account (or the given ones); collect the first violation of each."""
    query = select(accounts).order_by(accounts.c.id)
    if account_ids:
        query = query.where(accounts.c.id.in_(account_ids))
    tariffs = _Tariffs(uow)
    violations, entries, recomputed, count = [], 0, 0, 0
    for account in uow.connection.execute(query).all():
        count += 1
        checker = _AccountCheck(uow, tariffs, account)
        violation = next(checker.run(), None)
        entries += checker.entries
        recomputed += checker.recomputed
        if violation is not None:
            violations.append(violation)
    return Report(count, entries, recomputed, tuple(violations))


class _Tariffs:
    """Tariffs by id, each read once: verify runs in one transaction, versions cannot change."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.loaded: dict[str, Tariff] = {}

    def get(self, tariff_id: str) -> Tariff:
        if tariff_id not in self.loaded:
            self.loaded[tariff_id] = load_tariff(self.uow, tariff_id)
        return self.loaded[tariff_id]


class _AccountCheck:
    def __init__(self, uow: UnitOfWork, tariffs: _Tariffs, account: Any) -> None:
        self.uow, self.tariffs, self.account = uow, tariffs, account
        # The account's accepted readings, loaded once: (time, continuous kWh) by id.
        self.readings = {
            row.id: (row.ts, row.continuous_kwh)
            for row in uow.connection.execute(
                select(readings.c.id, readings.c.ts, readings.c.continuous_kwh)
                .join(meters, meters.c.id == readings.c.meter_id)
                .where(meters.c.account_id == account.id, readings.c.outcome == "accepted")
            )
        }
        self.entries = self.recomputed = 0

    def run(self) -> Iterator[Violation]:
        account = self.account
        balance, expected_hash, sequence = account.opening_balance, GENESIS_HASH, 0
        last_cycle: dict[str, Any] | None = None
        rows = self.uow.connection.execute(
            select(ledger_entries)
            .where(ledger_entries.c.account_id == account.id)
            .order_by(ledger_entries.c.sequence)
        )
        for row in rows:
            self.entries += 1
            sequence += 1
            entry = row._asdict()

            def fail(rule: str, detail: str, row: Any = row) -> Violation:
                return Violation(account.id, row.sequence, row.id, rule, detail)

            if row.sequence != sequence:
                yield fail("sequence", f"expected sequence {sequence}, found {row.sequence}")
            if row.balance_before != balance:
                yield fail("balance_chain", f"balance_before {row.balance_before} but the"
                           f" previous balance_after is {balance}")  # fmt: skip
            if row.balance_after != row.balance_before + row.amount:
                yield fail("arithmetic", f"{row.balance_before} + {row.amount} is not"
                           f" {row.balance_after}")  # fmt: skip
            if row.prev_hash != expected_hash:
                yield fail("hash_chain", "prev_hash does not match the previous entry's hash")
            if entry_hash(entry, row.prev_hash) != row.hash:
                yield fail("hash_chain", "content does not match its hash: the row was edited")
            if row.kind in RATED:
                if last_cycle is not None and row.details.get("cycle_before") != last_cycle:
                    yield fail("cycle_chain", "cycle_before differs from the previous cycle_after")
                yield from self._recompute(row, fail)
                last_cycle = row.details.get("cycle_after")
            balance, expected_hash = row.balance_after, row.hash
        if account.balance != balance:
            detail = f"balance {account.balance} but opening + entries = {balance}"
            yield Violation(account.id, None, None, "account_balance", detail)
        if account.last_sequence != sequence or account.last_hash != expected_hash:
            detail = "last_sequence or last_hash does not match the newest entry"
            yield Violation(account.id, None, None, "account_head", detail)

    def _recompute(self, row: Any, fail: Any) -> Iterator[Violation]:
        if row.kind == "standing_charge":
            yield from self._recompute_standing(row, fail)
            return
        details = row.details
        for reading_id, ts, kwh in ((row.prev_reading_id, row.prev_ts, row.prev_kwh),
                                    (row.reading_id, row.curr_ts, row.curr_kwh)):  # fmt: skip
            if reading_id is None:
                continue
            if self.readings.get(reading_id) != (ts, kwh):
                yield fail("reading", f"reading {reading_id} does not match the entry's {kwh} kWh"
                           f" at {ts.isoformat()}")  # fmt: skip
        try:
            tariff = self.tariffs.get(details["tariff_id"])
            cycle_before = cycle_from_json(details["cycle_before"])
            deduction = rate_interval(
                MeterReading(row.prev_ts, row.prev_kwh, _bands(details.get("prev_bands_kwh"))),
                MeterReading(row.curr_ts, row.curr_kwh, _bands(details.get("curr_bands_kwh"))),
                tariff,
                cycle_before,
                extra_kwh_per_month=Decimal(details.get("extra_kwh_per_month", "0")),
            )
        except (CoreError, NotFoundError, KeyError) as error:
            yield fail("recompute", f"cannot be rated again: {error}")
            return
        self.recomputed += 1
        yield from _compare(deduction, row, cycle_before, fail)

    def _recompute_standing(self, row: Any, fail: Any) -> Iterator[Violation]:
        details = row.details
        try:
            tariff = self.tariffs.get(details["tariff_id"])
            cycle_before = cycle_from_json(details["cycle_before"])
            deduction = rate_standing_charge(
                tariff, date.fromisoformat(details["day"]), cycle_before
            )
        except (CoreError, NotFoundError, KeyError, ValueError) as error:
            yield fail("recompute", f"cannot be rated again: {error}")
            return
        self.recomputed += 1
        yield from _compare(deduction, row, cycle_before, fail)


def _compare(deduction: Deduction, row: Any, cycle_before: Any, fail: Any) -> Iterator[Violation]:
    if -deduction.amount != row.amount:
        yield fail("recompute", f"recomputes to {-deduction.amount}, stored {row.amount}")
    again = deduction_details(deduction, cycle_before, row.details.get("flags", []))
    for key in ("lines", "rounding", "cycle_after"):
        if again[key] != row.details.get(key):
            yield fail("recompute", f"{key} differ from a fresh rating of the same readings")


def _bands(data: dict[str, str] | None) -> dict[str, Decimal] | None:
    return None if data is None else {band: Decimal(kwh) for band, kwh in data.items()}
