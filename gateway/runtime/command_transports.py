"""Meter command transports: how a command reaches a meter and comes back confirmed.

MQTT: `meters/{id}/command` and the meter's ack; Modbus: the driver's writes, confirmed by
read-back. Foreign errors become `CommandUnconfirmedError` (no answer: retried until expiry)
or `CommandRefusedError` (the meter said no).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from drivers.errors import DriverError, MeterUnreachableError
from drivers.mqtt.client import PendingCommand
from drivers.mqtt.contract import CommandAction
from drivers.mqtt.errors import CommandRejectedError, CommandTimeoutError, PublishNotConfirmedError
from gateway.runtime.outbox import utc_now

RelayState = Literal["closed", "open"]
_WANTED: dict[str, RelayState] = {"relay_open": "open", "relay_close": "closed"}


@dataclass(frozen=True, slots=True)
class MeterCommand:
    id: str
    meter_id: str
    action: CommandAction
    amount: Decimal | None  # set_balance: params["amount"], a decimal string
    expires_at: datetime
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What the meter reports after carrying out a command."""

    relay: RelayState | None = None
    balance: Decimal | None = None


class CommandError(Exception):
    """A command did not count."""


class CommandUnconfirmedError(CommandError):
    """No confirmation (timeout, unreachable, broker down); retried until the command expires."""


class CommandRefusedError(CommandError):
    """The meter answered no (ok=false, relay read-back unchanged); failed after max_refusals."""


class CommandTransport(Protocol):
    async def execute(self, command: MeterCommand) -> Confirmation: ...


class CommandSender(Protocol):
    """`drivers.mqtt.MqttGateway` is one."""

    def send_command(
        self,
        meter_id: str,
        action: CommandAction,
        *,
        amount: Decimal | None = ...,
        ttl_s: int = ...,
        command_id: str | None = ...,
    ) -> PendingCommand: ...


class MqttCommandTransport:
    """meters/{id}/command, confirmed by the meter's ack with the same id."""

    def __init__(
        self,
        sender: CommandSender,
        *,
        ack_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sender = sender
        self._ack_timeout_s = ack_timeout_s
        self._clock = clock

    async def execute(self, command: MeterCommand) -> Confirmation:
        # The meter's expiry is the whole seconds left, so it never outlives the row's.
        ttl_s = int((command.expires_at - self._clock()).total_seconds())
        if ttl_s < 1:
            msg = f"command {command.id} expires within a second; not sent"
            raise CommandUnconfirmedError(msg)
        try:
            pending = await asyncio.to_thread(
                self._sender.send_command,
                command.meter_id,
                command.action,
                amount=command.amount,
                ttl_s=ttl_s,
                command_id=command.id,
            )
            ack = await pending.confirmed_async(self._ack_timeout_s)
        except CommandRejectedError as exc:
            raise CommandRefusedError(f"meter refused: {exc.reason}") from exc
        except (PublishNotConfirmedError, CommandTimeoutError) as exc:
            raise CommandUnconfirmedError(str(exc)) from exc
        except ValueError as exc:  # the command does not fit the wire contract
            raise CommandRefusedError(f"invalid command: {exc}") from exc
        return Confirmation(relay=ack.relay, balance=ack.balance)


class RelayDriver(Protocol):
    """`drivers.modbus.driver.ModbusMeterDriver` is one; both confirm by reading back."""

    async def set_relay(self, *, open: bool) -> None: ...

    async def write_balance(self, amount: Decimal) -> None: ...


class ModbusCommandTransport:
    """Relay coil and balance register of one Modbus meter, confirmed by read-back."""

    def __init__(self, driver: RelayDriver) -> None:
        self._driver = driver

    async def execute(self, command: MeterCommand) -> Confirmation:
        try:
            if command.action == "set_balance":
                if command.amount is None:
                    msg = f"command {command.id}: set_balance without an amount"
                    raise CommandRefusedError(msg)
                await self._driver.write_balance(command.amount)
                return Confirmation(balance=command.amount)
            await self._driver.set_relay(open=command.action == "relay_open")
            return Confirmation(relay=_WANTED[command.action])
        except MeterUnreachableError as exc:
            raise CommandUnconfirmedError(str(exc)) from exc
        except DriverError as exc:  # read-back differs, exception reply, unsupported
            raise CommandRefusedError(str(exc)) from exc
