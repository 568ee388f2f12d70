"""Credit control: relay decisions, emergency credit, top-up allocation. Pure.

The runtime passes the account's position and the current instant; these functions say what
to do. Emergency credit is a loan credited to the balance and repaid from the next top-ups,
so the relay opens when the balance (loan included) reaches zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from gateway.core.errors import CoreError
from gateway.core.localtime import local_midnight, local_to_utc, require_aware
from gateway.core.money import ZERO, minor_quantum, to_minor_units

ONE_DAY = timedelta(days=1)


class CreditConfigError(CoreError, ValueError):
    """A credit-control setting is invalid. `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EmergencyCreditRefusedError(CoreError):
    """The account is not eligible for emergency credit now; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FriendlySchedule:
    """Friendly-credit hours in `timezone`: nights from `night_start` to `night_end` local
    time (crossing midnight when end <= start), whole `weekend_days` (0 = Monday) and
    `holidays`. The relay is never opened inside them."""

    timezone: str
    night_start: time | None = None
    night_end: time | None = None
    weekend_days: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        except (ValueError, KeyError) as exc:
            raise CreditConfigError("timezone", f"unknown timezone {self.timezone!r}") from exc
        if (self.night_start is None) != (self.night_end is None):
            raise CreditConfigError("night_start", "give both night_start and night_end or none")
        if self.night_start is not None and self.night_start == self.night_end:
            raise CreditConfigError("night_end", "must differ from night_start")
        if not self.weekend_days <= frozenset(range(7)) or len(self.weekend_days) == 7:
            raise CreditConfigError("weekend_days", "weekdays 0-6, and not all seven")

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """Friendly stretches that start on local `day`, as UTC instants, in start order."""
        windows = []
        if day in self.holidays or day.weekday() in self.weekend_days:
            windows.append((local_midnight(day, self.tz), local_midnight(day + ONE_DAY, self.tz)))
        if self.night_start is not None and self.night_end is not None:
            end_day = day + ONE_DAY if self.night_end <= self.night_start else day
            start = local_to_utc(day, self.night_start, self.tz)
            windows.append((start, local_to_utc(end_day, self.night_end, self.tz)))
        return sorted(windows)

    def friendly_until(self, at: datetime) -> datetime | None:
        """The instant the friendly period containing `at` ends (joined nights, weekends and
        holidays count as one period); None when `at` is not in friendly hours."""
        require_aware(at, "at")
        end = at
        day = at.astimezone(self.tz).date() - ONE_DAY  # a night from yesterday may hold `at`
        recurring = self.night_start is not None or bool(self.weekend_days)
        last_holiday = max(self.holidays, default=None)
        while True:
            if not recurring and (last_holiday is None or day > last_holiday):
                return end if end > at else None  # no friendly stretch starts from here on
            for start, stop in self._windows(day):
                if start > end:
                    return end if end > at else None
                end = max(end, stop)
            day += ONE_DAY

    def is_friendly(self, at: datetime) -> bool:
        return self.friendly_until(at) is not None


class RelayState(StrEnum):
    CLOSED = "closed"  # supply on
    OPEN = "open"  # supply off


class Action(StrEnum):
    NONE = "none"
    OPEN_RELAY = "open_relay"  # disconnect
    CLOSE_RELAY = "close_relay"  # reconnect
    DEFER = "defer"  # would disconnect, but not now: check again at `defer_until`


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    defer_until: datetime | None = None


def decide(
    *,
    balance: Decimal,
    relay: RelayState,
    now: datetime,
    protected: bool = False,
    friendly: FriendlySchedule | None = None,
    reconnect_level: Decimal = ZERO,
) -> Decision:
    """The relay action after an entry leaves the account at `balance` (loans included).

    Disconnect at zero or below, except for protected accounts (保电: never) and inside
    friendly hours (defer to their end). Reconnect an open relay once the balance is above
    `reconnect_level`, and always for a protected account.
    """
    require_aware(now, "now")
    if reconnect_level < 0:
        raise CreditConfigError("reconnect_level", f"must not be negative: {reconnect_level}")
    if relay is RelayState.OPEN:
        return _reconnect(balance, protected=protected, reconnect_level=reconnect_level)
    if balance > 0:
        return Decision(Action.NONE, f"balance {balance} above zero")
    if protected:
        return Decision(Action.NONE, f"balance {balance} but protected account: never cut")
    until = friendly.friendly_until(now) if friendly is not None else None
    if until is not None:
        return Decision(Action.DEFER, f"balance {balance} in friendly-credit hours", until)
    return Decision(Action.OPEN_RELAY, f"balance {balance} at or below zero")


def _reconnect(balance: Decimal, *, protected: bool, reconnect_level: Decimal) -> Decision:
    if protected:
        return Decision(Action.CLOSE_RELAY, "protected account: supply is never cut")
    if balance > reconnect_level:
        return Decision(Action.CLOSE_RELAY, f"balance {balance} above {reconnect_level}")
    return Decision(Action.NONE, f"balance {balance} not above {reconnect_level}: stays open")


@dataclass(frozen=True, slots=True)
class EmergencyCreditTerms:
    """Emergency credit of `amount`, available while the balance is below `available_below`
    and no earlier emergency credit is still outstanding."""

    amount: Decimal
    available_below: Decimal

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise CreditConfigError("amount", f"must be positive, got {self.amount}")


def grant_emergency_credit(
    terms: EmergencyCreditTerms, *, balance: Decimal, outstanding: Decimal
) -> Decimal:
    """The loan to credit to the balance now (record it as outstanding), or raise
    `EmergencyCreditRefusedError` saying why not."""
    if outstanding > 0:
        raise EmergencyCreditRefusedError(f"emergency credit {outstanding} not yet repaid")
    if balance >= terms.available_below:
        raise EmergencyCreditRefusedError(f"balance {balance} is not below {terms.available_below}")
    return terms.amount


class RepaymentOrder(StrEnum):
    EMERGENCY_FIRST = "emergency_first"  # repay the loan, then recover a share for debt
    DEBT_FIRST = "debt_first"  # recover the share for debt, then repay the loan


@dataclass(frozen=True, slots=True)
class RecoveryTerms:
    """Debt recovery: `share` (0-1) of the money left at its turn, at most `cap_per_top_up`."""

    share: Decimal
    cap_per_top_up: Decimal | None = None
    minor_unit: int = 2
    order: RepaymentOrder = RepaymentOrder.EMERGENCY_FIRST

    def __post_init__(self) -> None:
        if not ZERO <= self.share <= 1:
            raise CreditConfigError("share", f"must be between 0 and 1, got {self.share}")
        if self.cap_per_top_up is not None and self.cap_per_top_up < 0:
            raise CreditConfigError(
                "cap_per_top_up", f"must not be negative: {self.cap_per_top_up}"
            )


@dataclass(frozen=True, slots=True)
class Allocation:
    """How one top-up was split. The three parts add up to `top_up` exactly."""

    top_up: Decimal
    emergency_repaid: Decimal
    debt_recovered: Decimal
    to_balance: Decimal


def allocate_top_up(
    top_up: Decimal, *, emergency_outstanding: Decimal, debt: Decimal, terms: RecoveryTerms
) -> Allocation:
    """Split a top-up into emergency-credit repayment, debt recovery and balance credit.

    Works in whole minor units. The debt share is rounded down (in the customer's favour)
    and is at most the cap and the debt; the balance gets exactly what is left.
    """
    names = ("top_up", "emergency_outstanding", "debt")
    values = (top_up, emergency_outstanding, debt)
    for name, value in zip(names, values, strict=True):
        if value < 0:
            raise CreditConfigError(name, f"must not be negative: {value}")
    amount, loan, owed = (to_minor_units(value, terms.minor_unit) for value in values)
    cap = (
        owed
        if terms.cap_per_top_up is None
        else to_minor_units(terms.cap_per_top_up, terms.minor_unit)
    )

    def recover(available: int) -> int:
        share = int((available * terms.share).to_integral_value(rounding=ROUND_FLOOR))
        return min(share, cap, owed)

    if terms.order is RepaymentOrder.EMERGENCY_FIRST:
        repaid = min(amount, loan)
        recovered = recover(amount - repaid)
    else:
        recovered = recover(amount)
        repaid = min(amount - recovered, loan)
    quantum = minor_quantum(terms.minor_unit)
    return Allocation(
        top_up=top_up,
        emergency_repaid=repaid * quantum,
        debt_recovered=recovered * quantum,
        to_balance=(amount - repaid - recovered) * quantum,
    )
