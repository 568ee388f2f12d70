"""Driver errors turned into advice a technician can act on, one sentence per failure class."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from drivers.errors import (
    DriverError,
    EncodeError,
    InvalidValueError,
    MeterUnreachableError,
    ModbusExceptionReplyError,
    RelayNotConfirmedError,
    UnsupportedOperationError,
    WriteNotConfirmedError,
)
from drivers.models import MODELS
from drivers.registers import MeterModel, RegisterSpec, SerialDefaults

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge (busy)",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where the meter is: Modbus TCP ``host:port`` or an RTU serial ``device``."""

    transport: Literal["tcp", "rtu"]
    model: MeterModel
    unit_id: int
    host: str = ""
    port: int = 502
    device: str = ""
    line: SerialDefaults = field(default_factory=SerialDefaults)

    @property
    def framing(self) -> str:
        line = self.line
        return f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"

    def where(self) -> str:
        if self.transport == "rtu":
            return f"unit {self.unit_id} at {self.framing} on {self.device}"
        return f"unit {self.unit_id} at {self.host}:{self.port} (Modbus TCP)"


def is_link_down(error: MeterUnreachableError) -> bool:
    return error.reason.startswith(("connect", "link down", "link error"))


def link_down(target: Target, error: MeterUnreachableError) -> str:
    if target.transport == "rtu":
        return (
            f"cannot open {target.device} ({error.reason}): is the USB-RS485 adapter plugged in"
            " and is this its name? (ls /dev/ttyUSB* /dev/serial/by-id/); are you in the"
            " dialout group?"
        )
    return (
        f"cannot connect to {target.host}:{target.port} ({error.reason}): is the meter or its"
        " TCP gateway powered and on this network (ping it), and is the port right (Modbus TCP"
        " is usually 502)?"
    )


def no_answer(target: Target) -> str:
    if target.transport == "rtu":
        return (
            f"no answer from {target.where()} — check wiring (A/B swapped?), the unit address"
            f" and the baud rate; the meter's menu shows its address and baud"
            f" (this model's default: {target.model.serial.baudrate} baud, id"
            f" {target.model.unit_id})"
        )
    return (
        f"no answer from unit {target.unit_id} at {target.host}:{target.port} — the TCP"
        " connection works but nothing answers for this unit id: check the unit address; behind"
        " a TCP-to-RS485 gateway also check its serial settings and the RS-485 wiring (A/B)"
    )


def garbled(target: Target) -> str:
    return (
        f"replies from {target.where()} arrive garbled (CRC errors) — noise or a baud / parity"
        " mismatch: check the baud rate and parity against the meter's menu, use twisted pair"
        " with the shield grounded at one end, and fit 120 ohm termination at both bus ends"
    )


def other_unit(target: Target, detail: str) -> str:
    return (
        f"{detail} answered a request for unit {target.unit_id} — two meters share an address,"
        " or a meter is set to a different address than the one you gave; check each meter's"
        " address in its menu"
    )


def exception_reply(
    target: Target, error: ModbusExceptionReplyError, *, answered: set[tuple[int, int]]
) -> str:
    code = error.exception_code
    at = f"0x{error.address:04X}"
    name = EXCEPTION_NAMES.get(code, f"exception {code}")
    if code in {1, 2}:
        refused = {(error.function_code, error.address)}
        guess = suggest_models(target.model, answered=answered, refused=refused)
        which = f"is it {' or '.join(guess)}?" if guess else "check the label on the meter"
        what = "function code" if code == 1 else "register"
        return (
            f"{name} at {at} (FC{error.function_code}): the meter has no such {what}, so the"
            f" meter model is probably wrong (you said {target.model.name}; {which})"
        )
    if code == 3:
        return (
            f"{name} at {at}: the meter refuses the request's length or value; the model's"
            " max_registers_per_request may be too high for this firmware"
        )
    if code in {4, 5, 6}:
        return (
            f"{name} at {at}: the meter reports an internal fault or is busy; wait a minute and"
            " rerun; if it persists power-cycle the meter, then replace it"
        )
    if code in {10, 11}:
        return (
            f"{name}: the TCP gateway answered but not the meter behind it; check the gateway's"
            f" RS-485 side: wiring (A/B), baud rate, and that unit {target.unit_id} is on it"
        )
    return f"Modbus exception {code} at {at}; see the meter's manual"


def suggest_models(
    model: MeterModel, *, answered: set[tuple[int, int]], refused: set[tuple[int, int]]
) -> list[str]:
    """Other known models with every (FC, address) that answered and none that was refused."""
    out = []
    for other in MODELS.values():
        addresses = {(spec.function_code, spec.address) for spec in other.registers}
        if other is model or not answered <= addresses or refused & addresses:
            continue
        out.append(other.name)
    family = model.name.split("-")[0]
    out.sort(key=lambda name: (not name.startswith(family), name))
    return out[:3]


def invalid_value(spec: RegisterSpec) -> str:
    return (
        f"the meter reports 'not available' for {spec.name} (its invalid marker or NaN):"
        " the quantity is not measured in this wiring or mode (e.g. a phase not connected),"
        " or the meter is still starting up; rerun in a minute"
    )


def relay_not_switched(error: RelayNotConfirmedError) -> str:
    return (
        f"the relay did not switch: told to be {error.wanted}, it reads back {error.read_back};"
        " the meter acknowledged the command, so check the relay / contactor itself, whether"
        " remote relay control is enabled in the meter's settings, and its firmware version"
    )


def write_not_confirmed(error: WriteNotConfirmedError) -> str:
    return (
        f"{error}: the meter acknowledged the write but kept another value; the balance may be"
        " read-only in this cost-control mode (remote vs local) or need an unlock/password"
    )


def explain(error: DriverError, target: Target, *, answered: Iterable[tuple[int, int]] = ()) -> str:
    """The advice for any driver error (the specific ones above when the type is known)."""
    if isinstance(error, MeterUnreachableError):
        return link_down(target, error) if is_link_down(error) else no_answer(target)
    if isinstance(error, ModbusExceptionReplyError):
        return exception_reply(target, error, answered=set(answered))
    if isinstance(error, RelayNotConfirmedError):
        return relay_not_switched(error)
    if isinstance(error, WriteNotConfirmedError):
        return write_not_confirmed(error)
    advice = {
        UnsupportedOperationError: "drop this test or check the --model",
        InvalidValueError: "the quantity is not available; rerun in a minute",
        EncodeError: "the value does not fit the register (its step or range)",
    }
    hint = next((text for kind, text in advice.items() if isinstance(error, kind)), None)
    return f"{error}: {hint or 'check the --model and the register map'}"
