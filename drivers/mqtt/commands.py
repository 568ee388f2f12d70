"""Commands to meters: an id and an expiry each; a command counts only when the meter acks it.

`CommandTracker` matches acks to pending commands by id; it holds no broker and no clock.
"""

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from drivers.mqtt.contract import CommandAckPayload, CommandAction, CommandPayload, amount_text
from drivers.mqtt.fields import RelayState
from drivers.mqtt.payloads import dump_object


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    meter_id: str
    action: CommandAction
    amount: Decimal | None
    expires_at: datetime  # aware

    def __post_init__(self) -> None:
        # Validate through the wire model so a bad command fails here, not at the meter.
        CommandPayload.model_validate(self.wire())

    def wire(self) -> dict[str, object]:
        obj: dict[str, object] = {
            "id": self.id,
            "action": self.action,
            "expires_at": self.expires_at.isoformat(),
        }
        if self.amount is not None:
            obj["amount"] = amount_text(self.amount)
        return obj

    def to_bytes(self) -> bytes:
        return dump_object(self.wire())


@dataclass(frozen=True, slots=True)
class CommandAck:
    """A meter's answer to a command."""

    command_id: str
    meter_id: str
    ok: bool
    relay: RelayState | None
    balance: Decimal | None
    error: str | None

    @classmethod
    def from_payload(cls, meter_id: str, payload: CommandAckPayload) -> "CommandAck":
        return cls(
            command_id=payload.id,
            meter_id=meter_id,
            ok=payload.ok,
            relay=payload.relay,
            balance=payload.balance,
            error=payload.error,
        )


class CommandTracker:
    """Pending commands by id; `resolve` completes the matching future (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, Future[CommandAck]]] = {}

    def register(self, command: Command) -> "Future[CommandAck]":
        future: Future[CommandAck] = Future()
        with self._lock:
            if command.id in self._pending:
                msg = f"command id {command.id!r} is already pending"
                raise ValueError(msg)
            self._pending[command.id] = (command.meter_id, future)
        return future

    def resolve(self, ack: CommandAck) -> bool:
        """Complete the pending command; False if the ack matches none (late, or foreign)."""
        with self._lock:
            entry = self._pending.get(ack.command_id)
            if entry is None or entry[0] != ack.meter_id:
                return False
            del self._pending[ack.command_id]
        entry[1].set_result(ack)
        return True

    def forget(self, command_id: str) -> None:
        with self._lock:
            self._pending.pop(command_id, None)
