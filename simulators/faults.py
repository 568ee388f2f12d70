"""Scriptable meter faults over time, applied by the Modbus simulator.

Window faults act while ``start <= now < end`` on the meter's clock: ``Offline``
(silence), ``SlowAnswers``, ``ExceptionReply``, ``StuckValue`` (registers frozen),
``Spike`` (energy shows a jump), ``ClockDrift`` (the meter clock register is off),
``InvalidReadings`` (invalid markers / NaN), ``RelayRefuses`` (coil writes are
acknowledged and ignored), ``CrcErrors`` (RTU replies with a broken CRC).
Events happen once at ``start``: ``CounterReset``, ``Rollover`` (the energy counter is
put just below its wrap) and ``MeterExchange`` (a new meter with a new serial number
and opening reading).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from drivers.registers import MeterModel
from simulators.meter import VirtualMeter


@dataclass(frozen=True, slots=True)
class Offline:
    pass


@dataclass(frozen=True, slots=True)
class SlowAnswers:
    delay_s: float


@dataclass(frozen=True, slots=True)
class ExceptionReply:
    code: int = 4  # server device failure


@dataclass(frozen=True, slots=True)
class StuckValue:
    pass


@dataclass(frozen=True, slots=True)
class Spike:
    delta_kwh: Decimal


@dataclass(frozen=True, slots=True)
class ClockDrift:
    offset_s: int


@dataclass(frozen=True, slots=True)
class InvalidReadings:
    """Registers with an invalid marker show it; float registers show NaN."""


@dataclass(frozen=True, slots=True)
class RelayRefuses:
    pass


@dataclass(frozen=True, slots=True)
class CrcErrors:
    pass


@dataclass(frozen=True, slots=True)
class CounterReset:
    pass


@dataclass(frozen=True, slots=True)
class Rollover:
    headroom_kwh: Decimal = Decimal("0.05")


@dataclass(frozen=True, slots=True)
class MeterExchange:
    serial_number: int
    opening_energy_kwh: Decimal = Decimal(0)


WindowFault = (
    Offline
    | SlowAnswers
    | ExceptionReply
    | StuckValue
    | Spike
    | ClockDrift
    | InvalidReadings
    | RelayRefuses
    | CrcErrors
)
Event = CounterReset | Rollover | MeterExchange
_F = TypeVar("_F", bound=WindowFault)


@dataclass(frozen=True, slots=True)
class Scheduled:
    fault: WindowFault | Event
    start: datetime
    end: datetime | None = None


@dataclass
class FaultScript:
    entries: list[Scheduled] = field(default_factory=list)
    _applied: set[int] = field(default_factory=set)

    def add(
        self, fault: WindowFault | Event, *, start: datetime, end: datetime | None = None
    ) -> None:
        self.entries.append(Scheduled(fault, start, end))

    def clear(self) -> None:
        self.entries.clear()
        self._applied.clear()

    def active(self, now: datetime, kind: type[_F]) -> _F | None:
        for entry in self.entries:
            if (
                isinstance(entry.fault, kind)
                and entry.start <= now
                and (entry.end is None or now < entry.end)
            ):
                return entry.fault
        return None

    def apply_events(self, meter: VirtualMeter, model: MeterModel, now: datetime) -> None:
        """Apply each due one-shot event to the meter, once."""
        for index, entry in enumerate(self.entries):
            if index in self._applied or entry.start > now:
                continue
            fault = entry.fault
            if isinstance(fault, CounterReset):
                meter.reset_energy()
            elif isinstance(fault, Rollover):
                meter.reset_energy(counter_wrap_kwh(model) - fault.headroom_kwh)
            elif isinstance(fault, MeterExchange):
                meter.reset_energy(fault.opening_energy_kwh)
                meter.serial_number = fault.serial_number
            else:
                continue
            self._applied.add(index)


def counter_wrap_kwh(model: MeterModel) -> Decimal:
    """The kWh at which the model's energy register wraps to zero."""
    spec = model.find(model.energy_role)
    assert spec is not None
    return Decimal(1 << (16 * spec.count)) * spec.scale
