"""Low-balance alert policy: which warnings a balance change raises. Pure.

An account has several alert levels, in money (warn below 5.00) or in forecast days of
credit left (warn below 3 days, from the recent average daily charge). A level fires once
when the balance goes below it and is then disarmed; only a credit (a top-up or refund) that
lifts the balance above the level plus its margin arms it again, so a balance hovering round
a level never floods the customer with warnings. The state is plain data for JSON storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from gateway.core.errors import CoreError
from gateway.core.money import ZERO

DAYS_SHOWN = Decimal("0.1")  # days of credit left are shown to a tenth, rounded down


class AlertKind(StrEnum):
    LOW_BALANCE = "low_balance"  # raised by `evaluate`
    ZERO_CREDIT = "zero_credit"  # the rest are raised by the runtime with a plain `Alert`
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    TAMPER = "tamper"
    METER_OFFLINE = "meter_offline"


class LevelKind(StrEnum):
    MONEY = "money"  # threshold and margin in the account's currency
    DAYS = "days"  # threshold and margin in forecast days of credit left


class AlertConfigError(CoreError, ValueError):
    """An alert level is invalid. `field` names the offending setting."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AlertLevel:
    """Warn once when the balance (or days left) goes below `threshold`; re-arm only after a
    credit lifts it above `threshold + margin`."""

    kind: LevelKind
    threshold: Decimal
    margin: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise AlertConfigError("threshold", f"must not be negative, got {self.threshold}")
        if self.margin < 0:
            raise AlertConfigError("margin", f"must not be negative, got {self.margin}")

    @property
    def key(self) -> str:
        """Stable name of the level in `AlertState`: 'money:5', 'days:3' (margin excluded)."""
        return f"{self.kind}:{self.threshold.normalize():f}"


@dataclass(frozen=True, slots=True)
class AlertState:
    """The levels that have fired and wait for a top-up to re-arm them (by `AlertLevel.key`).

    Stored as the fired set rather than the armed one, so a level added to an account later
    starts armed without a migration. `AlertState()` is a fresh account: every level armed.
    """

    disarmed: frozenset[str] = frozenset()

    def is_armed(self, level: AlertLevel) -> bool:
        return level.key not in self.disarmed

    def to_json(self) -> list[str]:
        return sorted(self.disarmed)

    @classmethod
    def from_json(cls, data: Iterable[str]) -> AlertState:
        return cls(frozenset(data))


@dataclass(frozen=True, slots=True)
class Alert:
    """One warning to send. `level` and `days_left` are None where they do not apply."""

    kind: AlertKind
    message: str
    balance: Decimal
    balance_before: Decimal | None = None
    level: AlertLevel | None = None
    days_left: Decimal | None = None


def days_left(balance: Decimal, daily_charge_forecast: Decimal | None) -> Decimal | None:
    """Forecast days of credit left (exact), 0 at or below zero; None when there is no forecast
    (no recent consumption, or none given), so days levels neither fire nor re-arm."""
    if daily_charge_forecast is None or daily_charge_forecast <= 0:
        return None
    return max(balance, ZERO) / daily_charge_forecast


def evaluate(
    levels: Sequence[AlertLevel],
    state: AlertState,
    balance_before: Decimal,
    balance_after: Decimal,
    *,
    is_credit: bool,
    daily_charge_forecast: Decimal | None,
    currency: str = "",
) -> tuple[AlertState, list[Alert]]:
    """The new state and the alerts raised by one ledger entry on the account.

    Per level: a credit whose new value is above threshold + margin re-arms it; an armed level
    whose new value is below its threshold (strictly) fires and is disarmed. Pass
    `is_credit=True` for top-ups and refunds only: a deduction, or an emergency-credit loan,
    never re-arms a level, even when it leaves the balance above the level plus the margin.
    Alerts come in the order of `levels`.
    """
    keys = [level.key for level in levels]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise AlertConfigError("levels", f"duplicate levels {', '.join(duplicates)}")
    days = days_left(balance_after, daily_charge_forecast)
    disarmed = set(state.disarmed)
    alerts: list[Alert] = []
    for level in levels:
        value = balance_after if level.kind is LevelKind.MONEY else days
        if value is None:
            continue
        if is_credit and value > level.threshold + level.margin:
            disarmed.discard(level.key)
        if level.key not in disarmed and value < level.threshold:
            disarmed.add(level.key)
            alerts.append(
                Alert(
                    kind=AlertKind.LOW_BALANCE,
                    message=_message(level, balance_after, days, currency),
                    balance=balance_after,
                    balance_before=balance_before,
                    level=level,
                    days_left=_shown(days),
                )
            )
    return AlertState(frozenset(disarmed)), alerts


def _shown(days: Decimal | None) -> Decimal | None:
    return None if days is None else days.quantize(DAYS_SHOWN, rounding=ROUND_DOWN)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}".rstrip()


def _message(level: AlertLevel, balance: Decimal, days: Decimal | None, currency: str) -> str:
    shown = _shown(days)
    left = "" if shown is None else f"about {shown} days of credit left"
    if level.kind is LevelKind.MONEY:
        head = f"balance {_money(balance, currency)} is below {_money(level.threshold, currency)}"
        return f"{head}: {left}" if left else head
    return f"balance {_money(balance, currency)}: {left}, below {level.threshold} days"
