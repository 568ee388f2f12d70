"""``VirtualMeter``: a meter whose registers come from integrating a load profile.

Energy is kept per time-of-use band in exact ``Decimal`` watt-seconds; kWh is derived
only when a register is encoded. An open relay draws nothing. The meter has its own
injected clock (``ManualClock`` for tests, ``AcceleratedClock`` for fast dry runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from drivers.registers import MeterModel, RegisterSpec, band_name
from simulators.profiles import SINGLE_BAND, BandSchedule, LoadProfile

WS_PER_KWH = Decimal(3_600_000)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class ManualClock:
    """A clock that moves only when told to."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


class AcceleratedClock:
    """Wall time since ``start``, multiplied by ``factor`` (3600: an hour a second)."""

    def __init__(self, start: datetime, factor: float = 1.0) -> None:
        self._start = start
        self._factor = factor
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._factor)


class VirtualMeter:
    def __init__(
        self,
        *,
        clock: Clock,
        profile: LoadProfile,
        bands: BandSchedule = SINGLE_BAND,
        serial_number: int = 1,
        opening_energy_kwh: Decimal = Decimal(0),
        voltage_v: Decimal = Decimal("230.0"),
        frequency_hz: Decimal = Decimal("50.00"),
        balance: Decimal | None = None,
        price_per_kwh: Decimal | None = None,
    ) -> None:
        self.clock = clock
        self.profile = profile
        self.bands = bands
        self.serial_number = serial_number
        self.voltage_v = voltage_v
        self.frequency_hz = frequency_hz
        self.balance = balance
        self.price_per_kwh = price_per_kwh
        self.relay_closed = True
        self._energy_ws = dict.fromkeys(bands.bands, Decimal(0))
        self._energy_ws[bands.bands[0]] += opening_energy_kwh * WS_PER_KWH
        self._integrated_to = clock.now()

    # -- physics -------------------------------------------------------------------
    def advance(self) -> None:
        """Integrate consumption from the last call up to the meter clock's now."""
        end = self.clock.now()
        at = self._integrated_to
        while at < end:
            band_change = self.bands.next_change(at)
            profile_change = self.profile.next_change(at)
            step_end = min(end, band_change, profile_change or end)
            if self.relay_closed:
                seconds = Decimal((step_end - at) // timedelta(microseconds=1)) / 1_000_000
                energy_ws = self.profile.power_w(at) * seconds
                self._energy_ws[self.bands.band_at(at)] += energy_ws
                if self.balance is not None and self.price_per_kwh is not None:
                    self.balance -= energy_ws / WS_PER_KWH * self.price_per_kwh
            at = step_end
        self._integrated_to = max(self._integrated_to, end)

    @property
    def energy_ws(self) -> Decimal:
        """Exact energy in watt-seconds (kWh values are this divided by 3,600,000)."""
        self.advance()
        return sum(self._energy_ws.values(), Decimal(0))

    @property
    def energy_kwh(self) -> Decimal:
        self.advance()
        return sum(self._energy_ws.values(), Decimal(0)) / WS_PER_KWH

    def band_energy_kwh(self, band: str) -> Decimal:
        self.advance()
        return self._energy_ws.get(band, Decimal(0)) / WS_PER_KWH

    @property
    def power_w(self) -> Decimal:
        return self.profile.power_w(self.clock.now()) if self.relay_closed else Decimal(0)

    def set_relay(self, *, closed: bool) -> None:
        self.advance()  # consumption up to now counts at the old relay state
        self.relay_closed = closed

    def reset_energy(self, opening_energy_kwh: Decimal = Decimal(0)) -> None:
        """Counter reset or a new meter: all bands to zero, opening reading in the first."""
        self.advance()
        self._energy_ws = dict.fromkeys(self.bands.bands, Decimal(0))
        self._energy_ws[self.bands.bands[0]] = opening_energy_kwh * WS_PER_KWH

    def add_energy(self, energy_kwh: Decimal) -> None:
        self.advance()
        band = self.bands.band_at(self.clock.now())
        self._energy_ws[band] = self._energy_ws.get(band, Decimal(0)) + energy_kwh * WS_PER_KWH

    # -- what the registers show -----------------------------------------------------
    def value_for(self, spec: RegisterSpec, model: MeterModel) -> Decimal:
        """The value (in the role's unit) a register of ``model`` shows now."""
        role = spec.role
        if band := band_name(role):
            return self.band_energy_kwh(band)
        if role == "energy_total_kwh" and model.band_registers:
            # a multi-band meter's total is the sum of the band registers it shows
            return sum(
                (
                    _floor(self.band_energy_kwh(band_name(b.role) or ""), b)
                    for b in model.band_registers
                ),
                Decimal(0),
            )
        return self._plain_value(role)

    def _plain_value(self, role: str) -> Decimal:
        values: dict[str, Callable[[], Decimal]] = {
            "energy_import_kwh": lambda: self.energy_kwh,
            "energy_total_kwh": lambda: self.energy_kwh,
            "energy_export_kwh": lambda: Decimal(0),
            "voltage_v": lambda: self.voltage_v,
            "voltage_l2_v": lambda: self.voltage_v,
            "voltage_l3_v": lambda: self.voltage_v,
            "current_a": self._current_a,
            "current_l2_a": lambda: Decimal(0),
            "current_l3_a": lambda: Decimal(0),
            "power_w": lambda: self.power_w,
            "frequency_hz": lambda: self.frequency_hz,
            "balance": self._balance_now,
            "serial_number": lambda: Decimal(self.serial_number),
            "map_version": lambda: Decimal(1),
            "clock_unix_s": lambda: Decimal(int(self.clock.now().timestamp())),
        }
        return values[role]()

    def _current_a(self) -> Decimal:
        if not self.voltage_v:
            return Decimal(0)  # no voltage measured (input not connected): no current either
        return (self.power_w / self.voltage_v).quantize(Decimal("0.001"))

    def _balance_now(self) -> Decimal:
        self.advance()
        return self.balance if self.balance is not None else Decimal(0)


def _floor(value: Decimal, spec: RegisterSpec) -> Decimal:
    return (value / spec.scale).to_integral_value(rounding=ROUND_DOWN) * spec.scale
