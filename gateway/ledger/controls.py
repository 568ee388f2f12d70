"""Credit control inside the ledger's transaction: alerts, outbox rows and relay commands.

After entries move a balance, the pure policies (`gateway.core.alerts`, `gateway.core.credit`)
say which alerts to raise and which relay to switch; this module writes those as rows in the
SAME transaction as the entries (transactional outbox), so none is lost across a crash. The
dispatchers in `gateway.runtime` deliver them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway.core.alerts import Alert, AlertKind, AlertLevel, AlertState, LevelKind, evaluate
from gateway.core.commands import CommandAction
from gateway.core.credit import (
    Action,
    FriendlySchedule,
    RecoveryTerms,
    RelayState,
    allocate_top_up,
    decide,
)
from gateway.ledger.codec import dec
from gateway.ledger.posting import AccountState, new_id
from gateway.storage.bulk import insert_rows, update_rows
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import account_controls, alerts, meter_commands, meters, outbox

ZERO = Decimal(0)
OPEN_COMMANDS = ("pending", "sent")


@dataclass(frozen=True, slots=True)
class ControlPolicy:
    """The gateway's credit-control settings (from the runtime's configuration)."""

    alert_levels: tuple[AlertLevel, ...] = (
        AlertLevel(LevelKind.MONEY, Decimal(5), Decimal(2)),
        AlertLevel(LevelKind.DAYS, Decimal(3), Decimal(1)),
    )
    friendly: FriendlySchedule | None = None
    reconnect_level: Decimal = ZERO
    recovery: RecoveryTerms = field(default_factory=lambda: RecoveryTerms(share=Decimal("0.25")))
    command_ttl: timedelta = timedelta(hours=1)
    alert_topic: str = "accounts/{account_id}/alerts"
    webhooks: bool = True


@dataclass(slots=True)
class Controls:
    """An account's control row, loaded under the account lock."""

    account_id: str
    protected: bool = False
    alert_levels: tuple[AlertLevel, ...] | None = None
    alert_state: AlertState = field(default_factory=AlertState)
    emergency_credit: Decimal = ZERO
    debt: Decimal = ZERO
    stored: bool = False

    def row(self, now: datetime) -> dict[str, Any]:
        levels = None
        if self.alert_levels is not None:
            levels = [
                [lv.kind.value, dec(lv.threshold), dec(lv.margin)] for lv in self.alert_levels
            ]
        return {
            "account_id": self.account_id, "protected": self.protected, "alert_levels": levels,
            "alert_state": self.alert_state.to_json(), "emergency_credit": self.emergency_credit,
            "debt": self.debt, "updated_at": now,
        }  # fmt: skip


def load_controls(uow: UnitOfWork, account_ids: Iterable[str]) -> dict[str, Controls]:
    ids = sorted(set(account_ids))
    found = {account_id: Controls(account_id) for account_id in ids}
    rows = uow.connection.execute(
        select(account_controls).where(account_controls.c.account_id.in_(ids))
    )
    for row in rows:
        levels = None
        if row.alert_levels is not None:
            levels = tuple(
                AlertLevel(LevelKind(kind), Decimal(threshold), Decimal(margin))
                for kind, threshold, margin in row.alert_levels
            )
        found[row.account_id] = Controls(
            row.account_id, row.protected, levels, AlertState.from_json(row.alert_state or []),
            row.emergency_credit, row.debt, stored=True,
        )  # fmt: skip
    return found


@dataclass(slots=True)
class Actions:
    """Alerts, outbox rows and relay commands decided in one transaction, written together."""

    policy: ControlPolicy
    now: datetime
    alerts: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[str, Controls] = field(default_factory=dict)

    def raise_alert(
        self, account: AccountState, alert: Alert, *, meter_id: str | None = None,
        entry_id: str | None = None,
    ) -> None:  # fmt: skip
        row = {
            "id": new_id(), "account_id": account.id, "meter_id": meter_id,
            "kind": alert.kind.value, "level": alert.level.key if alert.level else None,
            "message": alert.message, "balance": alert.balance, "entry_id": entry_id,
            "created_at": self.now, "acknowledged_at": None, "acknowledged_by": None,
        }  # fmt: skip
        self.alerts.append(row)
        payload = {
            "event": "alert", "alert_id": row["id"], "account_id": account.id,
            "meter_id": meter_id, "kind": row["kind"], "level": row["level"],
            "message": alert.message, "balance": dec(alert.balance), "currency": account.currency,
            "days_left": None if alert.days_left is None else dec(alert.days_left),
            "entry_id": entry_id, "created_at": self.now.isoformat(),
        }  # fmt: skip
        topic = self.policy.alert_topic.format(account_id=account.id)
        self._queue("mqtt", topic, payload)
        if self.policy.webhooks:
            self._queue("webhook", "alert", payload)

    def _queue(self, channel: str, topic: str, payload: dict[str, Any]) -> None:
        self.outbox.append({
            "channel": channel, "topic": topic, "payload": payload, "created_at": self.now,
            "next_attempt_at": self.now, "attempts": 0, "delivered_at": None, "last_error": None,
        })  # fmt: skip

    def balance_moved(
        self, account: AccountState, controls: Controls, balance_before: Decimal, *,
        is_credit: bool, relays: dict[str, str], busy_meters: set[str],
        entry_id: str | None = None,
    ) -> None:  # fmt: skip
        """Raise the alerts for a balance change and queue the relay commands it calls for."""
        levels = controls.alert_levels or self.policy.alert_levels
        state, raised = evaluate(
            levels, controls.alert_state, balance_before, account.balance,
            is_credit=is_credit, daily_charge_forecast=daily_forecast(account, self.now),
            currency=account.currency,
        )  # fmt: skip
        if state != controls.alert_state:
            controls.alert_state = state
            self.touched[account.id] = controls
        for alert in raised:
            self.raise_alert(account, alert, entry_id=entry_id)
        self.review_relays(account, controls, relays, busy_meters)

    def review_relays(
        self, account: AccountState, controls: Controls, relays: dict[str, str],
        busy_meters: set[str],
    ) -> None:  # fmt: skip
        for meter_id, relay in sorted(relays.items()):
            if meter_id in busy_meters:
                continue  # a command for this meter is still waiting for its confirmation
            decision = decide(
                balance=account.balance, relay=RelayState(relay), now=self.now,
                protected=controls.protected, friendly=self.policy.friendly,
                reconnect_level=self.policy.reconnect_level,
            )  # fmt: skip
            if decision.action is Action.OPEN_RELAY:
                message = f"credit exhausted: {decision.reason}; disconnecting meter {meter_id}"
                self.raise_alert(account, Alert(AlertKind.ZERO_CREDIT, message, account.balance),
                                 meter_id=meter_id)  # fmt: skip
                self._command(meter_id, CommandAction.RELAY_OPEN, decision.reason)
            elif decision.action is Action.CLOSE_RELAY:
                self._command(meter_id, CommandAction.RELAY_CLOSE, decision.reason)
            else:
                continue
            busy_meters.add(meter_id)

    def _command(self, meter_id: str, action: CommandAction, reason: str) -> None:
        self.commands.append({
            "id": new_id(), "meter_id": meter_id, "action": action.value, "params": None,
            "reason": reason, "status": "pending", "attempts": 0, "created_at": self.now,
            "expires_at": self.now + self.policy.command_ttl, "next_attempt_at": self.now,
            "confirmed_at": None, "last_error": None,
        })  # fmt: skip

    def write(self, uow: UnitOfWork) -> None:
        insert_rows(uow.connection, alerts, self.alerts)
        insert_rows(uow.connection, outbox, self.outbox)
        insert_rows(uow.connection, meter_commands, self.commands)
        fresh = [c.row(self.now) for c in self.touched.values() if not c.stored]
        known = [c.row(self.now) for c in self.touched.values() if c.stored]
        insert_rows(uow.connection, account_controls, fresh)
        update_rows(uow.connection, account_controls, "account_id", known)
        for controls in self.touched.values():
            controls.stored = True


def daily_forecast(account: AccountState, now: datetime) -> Decimal | None:
    """Average daily charge so far in the billing cycle (at least one day's worth)."""
    cycle = account.cycle
    if cycle is None or cycle.exact_charge <= 0:
        return None
    days = max(Decimal(1), Decimal((now - cycle.start).total_seconds()) / 86400)
    return cycle.exact_charge / days


def relays_and_busy(
    uow: UnitOfWork, account_ids: Iterable[str]
) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Each account's meters with their relay state, and the meters with an open command."""
    ids = sorted(set(account_ids))
    relays: dict[str, dict[str, str]] = {account_id: {} for account_id in ids}
    rows = uow.connection.execute(
        select(meters.c.id, meters.c.account_id, meters.c.relay).where(meters.c.account_id.in_(ids))
    )
    for row in rows:
        relays[row.account_id][row.id] = row.relay
    meter_ids = [m for by_meter in relays.values() for m in by_meter]
    busy = set(
        uow.connection.execute(
            select(meter_commands.c.meter_id).where(
                meter_commands.c.meter_id.in_(meter_ids),
                meter_commands.c.status.in_(OPEN_COMMANDS),
            )
        ).scalars()
    )
    return relays, busy


def act_on_batch(
    uow: UnitOfWork,
    policy: ControlPolicy,
    now: datetime,
    *,
    accounts: dict[str, AccountState],
    balances_before: dict[str, Decimal],
    anomalies: list[dict[str, Any]],
) -> None:
    """Alerts and relay commands for the accounts this batch charged, and tamper alerts."""
    moved = {state.id: state for state in accounts.values() if state.entries}
    tampered = [a for a in anomalies if a["kind"] == "tamper" and a["account_id"]]
    involved = set(moved) | {a["account_id"] for a in tampered}
    if not involved:
        return
    controls = load_controls(uow, involved)
    relays, busy = relays_and_busy(uow, involved)
    actions = Actions(policy, now)
    for account_id, state in sorted(moved.items()):
        actions.balance_moved(
            state, controls[account_id], balances_before[account_id], is_credit=False,
            relays=relays[account_id], busy_meters=busy, entry_id=state.entries[-1]["id"],
        )  # fmt: skip
    for anomaly in tampered:
        state = accounts[anomaly["account_id"]]
        alert = Alert(AlertKind.TAMPER, anomaly["detail"], state.balance)
        actions.raise_alert(state, alert, meter_id=anomaly["meter_id"])
    actions.write(uow)


def credit_with_controls(
    uow: UnitOfWork,
    state: AccountState,
    policy: ControlPolicy,
    *,
    now: datetime,
    top_up_entry: dict[str, Any],
    balance_before: Decimal,
) -> None:
    """After a top-up entry: repay emergency credit, recover debt, re-arm alerts, reconnect."""
    controls = load_controls(uow, [state.id])[state.id]
    allocation = allocate_top_up(
        top_up_entry["amount"], emergency_outstanding=controls.emergency_credit,
        debt=controls.debt, terms=replace(policy.recovery, minor_unit=state.minor_unit),
    )  # fmt: skip
    link = {"top_up_entry_id": top_up_entry["id"]}
    if allocation.emergency_repaid:
        reason = "emergency credit repaid from the top-up"
        state.append("emergency_repayment", -allocation.emergency_repaid, now, now,
                     details=link | {"reason": reason})  # fmt: skip
        controls.emergency_credit -= allocation.emergency_repaid
    if allocation.debt_recovered:
        reason = f"debt recovery: {policy.recovery.share} of the top-up"
        state.append("debt_recovery", -allocation.debt_recovered, now, now,
                     details=link | {"reason": reason})  # fmt: skip
        controls.debt -= allocation.debt_recovered
    actions = Actions(policy, now)
    actions.touched[state.id] = controls
    relays, busy = relays_and_busy(uow, [state.id])
    actions.balance_moved(state, controls, balance_before, is_credit=True,
                          relays=relays[state.id], busy_meters=busy,
                          entry_id=top_up_entry["id"])  # fmt: skip
    actions.write(uow)
