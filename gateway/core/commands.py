"""Meter commands: an id, an expiry, and a count only when the meter confirms. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from gateway.core.errors import CoreError
from gateway.core.localtime import require_aware


class CommandStateError(CoreError):
    """A meter command cannot move to the requested state from the one it is in."""


class CommandAction(StrEnum):
    RELAY_OPEN = "relay_open"
    RELAY_CLOSE = "relay_close"
    SET_BALANCE = "set_balance"  # local-mode meters keep their own balance


class CommandStatus(StrEnum):
    PENDING = "pending"  # created, not yet sent
    SENT = "sent"  # sent at least once, not confirmed: it has not happened yet
    CONFIRMED = "confirmed"  # the meter confirmed it: only now does it count
    EXPIRED = "expired"  # not confirmed before `expires_at`
    FAILED = "failed"  # refused by the meter, or out of attempts


@dataclass(frozen=True, slots=True)
class Backoff:
    """Resend after `first`, doubling (x `factor`) up to `longest`, at most `max_attempts`."""

    first: timedelta = timedelta(seconds=10)
    factor: int = 2
    longest: timedelta = timedelta(minutes=10)
    max_attempts: int = 6

    def delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th send before the next one."""
        multiplier: int = self.factor ** max(attempts - 1, 0)
        return min(self.first * multiplier, self.longest)


@dataclass(frozen=True, slots=True)
class MeterCommand:
    """One command to one meter; `command_id` travels with it so the confirmation matches."""

    command_id: str
    meter_id: str
    action: CommandAction
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    status: CommandStatus = CommandStatus.PENDING
    last_sent_at: datetime | None = None
    balance: Decimal | None = None  # for SET_BALANCE

    def is_expired(self, now: datetime) -> bool:
        """Past its expiry and not settled: the runtime marks it expired and stops sending."""
        return self.status in OPEN_STATUSES and now >= self.expires_at

    def next_attempt(self, now: datetime, backoff: Backoff) -> datetime | None:
        """When to send next (`now` at the earliest); None when no more sends are due:
        settled, expired, out of attempts, or the next send would come after the expiry."""
        require_aware(now, "now")
        if self.is_expired(now) or self.status not in OPEN_STATUSES:
            return None
        if self.last_sent_at is None:
            return now
        if self.attempts >= backoff.max_attempts:
            return None
        due = max(now, self.last_sent_at + backoff.delay(self.attempts))
        return due if due < self.expires_at else None

    def sent(self, now: datetime) -> MeterCommand:
        self._require(OPEN_STATUSES, CommandStatus.SENT, now)
        return replace(self, status=CommandStatus.SENT, attempts=self.attempts + 1,
                       last_sent_at=now)  # fmt: skip

    def confirmed(self) -> MeterCommand:
        """The meter confirmed it; accepted even after the expiry, since the meter did it."""
        if self.status is not CommandStatus.SENT:
            raise CommandStateError(f"{self.command_id}: confirmed while {self.status}")
        return replace(self, status=CommandStatus.CONFIRMED)

    def expired(self, now: datetime) -> MeterCommand:
        if not self.is_expired(now):
            raise CommandStateError(f"{self.command_id}: not expired at {now.isoformat()}")
        return replace(self, status=CommandStatus.EXPIRED)

    def failed(self) -> MeterCommand:
        self._require(OPEN_STATUSES, CommandStatus.FAILED, None)
        return replace(self, status=CommandStatus.FAILED)

    def _require(
        self, allowed: frozenset[CommandStatus], target: CommandStatus, now: datetime | None
    ) -> None:
        if self.status not in allowed or (now is not None and self.is_expired(now)):
            raise CommandStateError(f"{self.command_id}: cannot go {self.status} -> {target}")


OPEN_STATUSES = frozenset({CommandStatus.PENDING, CommandStatus.SENT})
