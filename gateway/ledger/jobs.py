"""Periodic ledger jobs the runtime schedules: standing charges, offline meters, credit review.

Each is one transaction, idempotent, and safe to run again after a crash or on two gateway
instances at once (PostgreSQL row locks; standing charges are keyed by account and day).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, insert, select

from gateway.core.alerts import Alert, AlertKind
from gateway.core.rating import rate_standing_charge
from gateway.ledger.codec import deduction_details
from gateway.ledger.controls import Actions, ControlPolicy, load_controls, relays_and_busy
from gateway.ledger.posting import AccountState, flush
from gateway.ledger.tariffs import TariffCache
from gateway.ledger.topups import lock_account
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import (
    account_tariffs,
    accounts,
    alerts,
    meters,
    standing_charge_days,
)


def post_standing_charges(
    uow: UnitOfWork, day: date, *, now: datetime, tariffs: TariffCache,
    policy: ControlPolicy | None = None,
) -> int:  # fmt: skip
    """Post `day`'s standing charge to every active account not yet charged for it."""
    done = select(standing_charge_days.c.account_id).where(standing_charge_days.c.day == str(day))
    pending = uow.connection.execute(
        select(accounts.c.id).where(accounts.c.status == "active", accounts.c.id.not_in(done))
    ).scalars()
    posted = 0
    for account_id in sorted(pending):
        state = lock_account(uow, account_id)
        already = uow.connection.execute(
            select(standing_charge_days.c.entry_id).where(
                standing_charge_days.c.account_id == account_id,
                standing_charge_days.c.day == str(day),
            )
        ).first()
        tariff_id = _tariff_id(uow, account_id)
        if already is not None or tariff_id is None:
            continue
        tariff = tariffs.get(uow, tariff_id)
        version = tariff.versions[-1]
        if not any(v.standing_charge_per_day for v in tariff.versions):
            continue
        before, cycle = state.balance, state.cycle
        deduction = rate_standing_charge(tariff, day, cycle)
        state.cycle = deduction.cycle
        details = deduction_details(deduction, cycle, []) | {
            "tariff_id": version.tariff_id, "day": str(day),
        }  # fmt: skip
        entry = state.append(
            "standing_charge", -deduction.amount, deduction.start, now,
            tariff_version=deduction.lines[0].tariff_version, details=details,
        )  # fmt: skip
        flush(uow, [state])
        uow.connection.execute(
            insert(standing_charge_days).values(
                account_id=account_id, day=str(day), entry_id=entry["id"]
            )
        )
        if policy is not None:
            _after_debit(uow, policy, now, state, before=before, entry_id=entry["id"])
        posted += 1
    return posted


def _tariff_id(uow: UnitOfWork, account_id: str) -> str | None:
    row = uow.connection.execute(
        select(account_tariffs.c.tariff_id)
        .where(account_tariffs.c.account_id == account_id)
        .order_by(account_tariffs.c.effective_from.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.tariff_id)


def _after_debit(
    uow: UnitOfWork, policy: ControlPolicy, now: datetime, state: AccountState, *,
    before: Decimal, entry_id: str,
) -> None:  # fmt: skip
    controls = load_controls(uow, [state.id])
    relays, busy = relays_and_busy(uow, [state.id])
    actions = Actions(policy, now)
    actions.balance_moved(state, controls[state.id], before, is_credit=False,
                          relays=relays[state.id], busy_meters=busy, entry_id=entry_id)  # fmt: skip
    actions.write(uow)


def detect_offline(
    uow: UnitOfWork, *, now: datetime, policy: ControlPolicy, after_intervals: int = 4
) -> int:
    """One `meter_offline` alert per silence: a meter whose newest reading is older than
    `after_intervals` expected intervals, and that has no offline alert since that reading."""
    alerted = (
        select(func.max(alerts.c.created_at))
        .where(and_(alerts.c.meter_id == meters.c.id, alerts.c.kind == "meter_offline"))
        .scalar_subquery()
    )
    rows = uow.connection.execute(
        select(
            meters.c.id,
            meters.c.account_id,
            meters.c.last_ts,
            meters.c.expected_interval_s,
            alerted.label("alerted_at"),
        )
        .where(meters.c.last_ts.is_not(None))
        .order_by(meters.c.id)
    ).all()
    actions = Actions(policy, now)
    for row in rows:
        silent_for = now - row.last_ts
        if silent_for <= timedelta(seconds=row.expected_interval_s * after_intervals):
            continue
        if row.alerted_at is not None and row.alerted_at >= row.last_ts:
            continue
        state = AccountState.from_row(
            uow.connection.execute(select(accounts).where(accounts.c.id == row.account_id)).one()
        )
        message = f"meter {row.id} silent since {row.last_ts.isoformat()} ({silent_for} ago)"
        actions.raise_alert(state, Alert(AlertKind.METER_OFFLINE, message, state.balance),
                            meter_id=row.id)  # fmt: skip
    actions.write(uow)
    return len(actions.alerts)


def review_credit(uow: UnitOfWork, *, now: datetime, policy: ControlPolicy) -> int:
    """Re-decide relays that wait on time: disconnections deferred by friendly hours, and
    reconnections. Returns the number of commands queued."""
    candidates = uow.connection.execute(
        select(accounts.c.id).where(accounts.c.status == "active").order_by(accounts.c.id)
    ).scalars()
    actions = Actions(policy, now)
    for account_id in list(candidates):
        state = lock_account(uow, account_id)
        relays, busy = relays_and_busy(uow, [account_id])
        closed_at_zero = state.balance <= 0 and "closed" in relays[account_id].values()
        open_with_credit = state.balance > 0 and "open" in relays[account_id].values()
        if closed_at_zero or open_with_credit:
            controls = load_controls(uow, [account_id])[account_id]
            actions.review_relays(state, controls, relays[account_id], busy)
    actions.write(uow)
    return len(actions.commands)
