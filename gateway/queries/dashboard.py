"""The operator dashboard's overview in one read: meters, accounts and alerts.

A meter is online when its newest accepted reading is at most `offline_after_intervals`
expected intervals old (the rule of `detect_offline`); a meter never read is offline. Days
of credit left are the figure credit control puts in its alerts: the balance over the
average daily charge so far in the billing cycle, to a tenth, rounded down; none without
consumption in the cycle, zero at or below a zero balance.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import func, select

from gateway.core.alerts import DAYS_SHOWN, days_left
from gateway.ledger.controls import daily_forecast
from gateway.ledger.posting import AccountState
from gateway.queries.alerts import AlertView
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import account_controls, accounts, alerts, meters

ZERO = Decimal(0)
OFFLINE_AFTER_INTERVALS = 4


@dataclass(frozen=True, slots=True)
class MeterStatus:
    id: str
    account_id: str
    serial: str
    online: bool
    relay: str
    expected_interval_s: int
    last_reading_at: datetime | None
    last_reading_kwh: Decimal | None
    commissioning_status: str


@dataclass(frozen=True, slots=True)
class AccountStatus:
    id: str
    currency: str
    status: str
    balance: Decimal
    days_of_credit_left: Decimal | None
    emergency_credit: Decimal
    debt: Decimal
    protected: bool
    last_sequence: int


@dataclass(frozen=True, slots=True)
class Summary:
    as_of: datetime
    offline_after_intervals: int
    meters_total: int
    accounts_total: int
    unacknowledged_alerts: int
    meters: tuple[MeterStatus, ...]
    accounts: tuple[AccountStatus, ...]
    alerts: tuple[AlertView, ...]


def summary(
    uow: UnitOfWork, *, now: datetime, limit: int = 500, alert_limit: int = 50,
    offline_after_intervals: int = OFFLINE_AFTER_INTERVALS,
) -> Summary:  # fmt: skip
    """Meters and accounts in id order (at most `limit` of each, totals beside them) and the
    newest `alert_limit` alerts, unacknowledged ones first."""
    connection = uow.connection
    meter_rows = connection.execute(select(meters).order_by(meters.c.id).limit(limit)).all()
    account_rows = connection.execute(
        select(
            accounts,
            account_controls.c.emergency_credit,
            account_controls.c.debt,
            account_controls.c.protected,
        )
        .outerjoin(account_controls, account_controls.c.account_id == accounts.c.id)
        .order_by(accounts.c.id)
        .limit(limit)
    ).all()
    alert_rows = connection.execute(
        select(alerts)
        .order_by(alerts.c.acknowledged_at.is_not(None), alerts.c.created_at.desc(), alerts.c.id)
        .limit(alert_limit)
    ).all()
    count = func.count()
    open_alerts = select(count).select_from(alerts).where(alerts.c.acknowledged_at.is_(None))
    return Summary(
        as_of=now,
        offline_after_intervals=offline_after_intervals,
        meters_total=connection.execute(select(count).select_from(meters)).scalar_one(),
        accounts_total=connection.execute(select(count).select_from(accounts)).scalar_one(),
        unacknowledged_alerts=connection.execute(open_alerts).scalar_one(),
        meters=tuple(_meter(row, now, offline_after_intervals) for row in meter_rows),
        accounts=tuple(_account(row, now) for row in account_rows),
        alerts=tuple(_alert(row) for row in alert_rows),
    )


def is_online(last_reading_at: datetime | None, expected_interval_s: int, *, now: datetime,
              after_intervals: int) -> bool:  # fmt: skip
    if last_reading_at is None:
        return False
    return now - last_reading_at <= timedelta(seconds=expected_interval_s * after_intervals)


def _meter(row: Any, now: datetime, after_intervals: int) -> MeterStatus:
    online = is_online(row.last_ts, row.expected_interval_s, now=now,
                       after_intervals=after_intervals)  # fmt: skip
    return MeterStatus(
        row.id, row.account_id, row.serial, online, row.relay, row.expected_interval_s,
        row.last_ts, row.last_raw_kwh, row.commissioning_status,
    )  # fmt: skip


def _account(row: Any, now: datetime) -> AccountStatus:
    days = days_left(row.balance, daily_forecast(AccountState.from_row(row), now))
    return AccountStatus(
        row.id, row.currency, row.status, row.balance,
        None if days is None else days.quantize(DAYS_SHOWN, rounding=ROUND_DOWN),
        row.emergency_credit if row.emergency_credit is not None else ZERO,
        row.debt if row.debt is not None else ZERO,
        bool(row.protected), row.last_sequence,
    )  # fmt: skip


def _alert(row: Any) -> AlertView:
    return AlertView(*(getattr(row, field.name) for field in fields(AlertView)))
