"""Serve ``VirtualMeter``s over Modbus TCP, RTU on a serial port, or RTU over TCP.

Registers are computed from the meter state on every request, through the same
``drivers.registers`` map and ``drivers.modbus.codec`` the driver decodes with, so the
simulator cannot disagree with the driver about an address. An absent unit id (or an
``Offline`` fault) gets silence, as on a real RS-485 bus.

pymodbus 3.16 note: ``MeterBusContext`` subclasses the (deprecated-for-v4)
``ModbusServerContext`` because that is the hook pymodbus servers accept for a
datastore that answers per request; the new ``SimDevice`` API holds fixed blocks and
cannot stay silent for one unit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from drivers.errors import DriverError
from drivers.modbus import codec
from drivers.registers import DataType, MeterModel, RegisterSpec, SerialDefaults
from simulators.faults import (
    ClockDrift,
    CrcErrors,
    ExceptionReply,
    FaultScript,
    InvalidReadings,
    Offline,
    RelayRefuses,
    SlowAnswers,
    Spike,
    StuckValue,
)
from simulators.meter import VirtualMeter

_SPACE = {1: "coil", 5: "coil", 15: "coil", 2: "input", 3: "holding", 6: "holding", 16: "holding"}
_SPACE[4] = "input_register"
_MODEL_SPACE = {1: "coil", 2: "input", 3: "holding", 4: "input_register"}


@dataclass
class SimulatedUnit:
    """One meter on the bus: its state, its register map and its fault script."""

    meter: VirtualMeter
    model: MeterModel
    faults: FaultScript = field(default_factory=FaultScript)
    requests: int = 0
    _stuck: dict[tuple[int, int, int], list[int] | list[bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index: dict[str, dict[int, RegisterSpec]] = {}
        for spec in self.model.registers:
            space = self._index.setdefault(_MODEL_SPACE[spec.function_code], {})
            for address in range(spec.address, spec.end):
                space[address] = spec

    def read(
        self, function_code: int, address: int, count: int
    ) -> list[int] | list[bool] | ExcCodes:
        now = self.meter.clock.now()
        if self.faults.active(now, StuckValue) is None:
            self._stuck.clear()
        elif (key := (function_code, address, count)) in self._stuck:
            return self._stuck[key]
        space = _SPACE.get(function_code)
        if space is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if space in {"coil", "input"}:
            result: list[int] | list[bool] | ExcCodes = self._read_bits(space, address, count)
        else:
            result = self._read_registers(space, address, count)
        if self.faults.active(now, StuckValue) is not None and not isinstance(result, ExcCodes):
            self._stuck[(function_code, address, count)] = result
        return result

    def _read_bits(self, space: str, address: int, count: int) -> list[bool] | ExcCodes:
        index = self._index.get(space, {})
        bits = []
        for offset in range(count):
            spec = index.get(address + offset)
            if spec is None or spec.role != "relay":
                return ExcCodes.ILLEGAL_ADDRESS
            bits.append(self.meter.relay_closed == self.model.relay_closed_value)
        return bits

    def _read_registers(self, space: str, address: int, count: int) -> list[int] | ExcCodes:
        index = self._index.get(space, {})
        if not index:
            return ExcCodes.ILLEGAL_ADDRESS
        low, high = min(index), max(index)
        encoded: dict[str, list[int]] = {}
        out = []
        for wire in range(address, address + count):
            spec = index.get(wire)
            if spec is None:
                if self.model.max_gap_registers and low <= wire <= high:
                    out.append(0)
                    continue
                return ExcCodes.ILLEGAL_ADDRESS
            if spec.name not in encoded:
                encoded[spec.name] = self._encode(spec)
            out.append(encoded[spec.name][wire - spec.address])
        return out

    def _encode(self, spec: RegisterSpec) -> list[int]:
        now = self.meter.clock.now()
        if self.faults.active(now, InvalidReadings):
            if spec.invalid_raw is not None:
                return codec.bytes_to_registers(
                    spec.invalid_raw.to_bytes(2 * spec.count, "big"), spec
                )
            if spec.data_type in {DataType.FLOAT32, DataType.FLOAT64}:
                return codec.encode(Decimal("NaN"), spec)
        value = self.meter.value_for(spec, self.model)
        if (spike := self.faults.active(now, Spike)) and spec.role in {
            self.model.energy_role,
            "energy_import_kwh",
            "energy_total_kwh",
        }:
            value += spike.delta_kwh
        if (drift := self.faults.active(now, ClockDrift)) and spec.role == "clock_unix_s":
            value += drift.offset_s
        return codec.encode(value, spec, wrap=True)

    def write(
        self, function_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        now = self.meter.clock.now()
        space = _SPACE.get(function_code)
        if space not in {"coil", "holding"}:
            return ExcCodes.ILLEGAL_FUNCTION
        if space == "coil":
            relay = self.model.relay
            if relay is None or address != relay.address or len(values) != 1:
                return ExcCodes.ILLEGAL_ADDRESS
            if self.faults.active(now, RelayRefuses) is None:
                self.meter.set_relay(closed=bool(values[0]) == self.model.relay_closed_value)
            return None
        spec = self.model.balance
        if (
            spec is None
            or not spec.writable
            or address != spec.address
            or len(values) != spec.count
        ):
            return ExcCodes.ILLEGAL_ADDRESS
        try:
            self.meter.advance()
            self.meter.balance = codec.decode([int(v) for v in values], spec)
        except DriverError:
            return ExcCodes.ILLEGAL_VALUE
        return None


class MeterBusContext(ModbusServerContext):
    """A pymodbus datastore answering for many simulated meters, by unit id."""

    def __init__(self, units: Mapping[int, SimulatedUnit]) -> None:  # no super(): see module doc
        self.units = dict(units)
        self.old_simulator = True
        self.simdevices = []

    def device_ids(self) -> list[int]:
        return list(self.units)

    async def _unit(self, device_id: int) -> SimulatedUnit:
        unit = self.units.get(device_id)
        if unit is None:
            raise NoSuchIdException(f"no unit {device_id}")
        now = unit.meter.clock.now()
        unit.faults.apply_events(unit.meter, unit.model, now)
        if unit.faults.active(now, Offline) is not None:
            raise NoSuchIdException(f"unit {device_id} is offline")
        if slow := unit.faults.active(now, SlowAnswers):
            await asyncio.sleep(slow.delay_s)
        unit.requests += 1
        return unit

    async def async_getValues(  # noqa: N802 - pymodbus' name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        unit = await self._unit(device_id)
        if failing := unit.faults.active(unit.meter.clock.now(), ExceptionReply):
            return ExcCodes(failing.code)
        return unit.read(func_code, address, count)

    async def async_setValues(  # noqa: N802 - pymodbus' name
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        unit = await self._unit(device_id)
        if failing := unit.faults.active(unit.meter.clock.now(), ExceptionReply):
            return ExcCodes(failing.code)
        return unit.write(func_code, address, values)


class RunningServer:
    """A started simulator server; ``port`` is the bound TCP port (TCP servers)."""

    def __init__(self, server: ModbusTcpServer | ModbusSerialServer, *, port: int | None) -> None:
        self.server = server
        self.port = port

    async def stop(self) -> None:
        shutdown = cast(Callable[[], Awaitable[None]], self.server.shutdown)
        await shutdown()


def _crc_breaker(context: MeterBusContext) -> Callable[[bool, bytes], bytes]:
    """RTU trace hook: flip the CRC of replies from units with an active ``CrcErrors``."""

    def trace(sending: bool, data: bytes) -> bytes:
        if not sending or not data:
            return data
        unit = context.units.get(data[0])
        if unit is None or unit.faults.active(unit.meter.clock.now(), CrcErrors) is None:
            return data
        return data[:-1] + bytes([data[-1] ^ 0xFF])

    return trace


async def serve_tcp(
    context: MeterBusContext, *, host: str = "127.0.0.1", port: int = 0, rtu_framing: bool = False
) -> RunningServer:
    """Serve on TCP (``port=0``: any free port); ``rtu_framing`` for RTU over TCP."""
    server = ModbusTcpServer(
        context,
        framer=FramerType.RTU if rtu_framing else FramerType.SOCKET,
        address=(host, port),
        ignore_missing_devices=True,
        trace_packet=_crc_breaker(context) if rtu_framing else None,
    )
    await server.serve_forever(background=True)
    bound = cast(asyncio.Server, server.transport).sockets[0].getsockname()[1]
    return RunningServer(server, port=int(bound))


async def serve_rtu(
    context: MeterBusContext, *, port: str, serial: SerialDefaults | None = None
) -> RunningServer:
    """Serve Modbus RTU on a serial port (a real one, or one end of a pty pair)."""
    line = serial or SerialDefaults()
    server = ModbusSerialServer(
        context,
        framer=FramerType.RTU,
        port=port,
        baudrate=line.baudrate,
        bytesize=line.bytesize,
        parity=line.parity,
        stopbits=line.stopbits,
        ignore_missing_devices=True,
        trace_packet=_crc_breaker(context),
    )
    await server.serve_forever(background=True)
    return RunningServer(server, port=None)
