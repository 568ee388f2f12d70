"""Sanity rules for commissioning, pure: values in, a ``CheckResult`` with advice out.

Ranges: voltage within -15 % / +10 % of nominal (EN 50160 allows +-10 % for 95 % of a
week; commissioning is a snapshot, so the low side is a little wider), frequency within
+-2 % of nominal. Energy must never go down between two reads, must move when the
power shown says it should have moved by more than two register steps, and must not
jump by more than ``max_power_w`` could explain. Per-band registers must sum to the
total within one register step per band.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Status = Literal["pass", "warn", "fail", "skip"]
WS_PER_KWH = Decimal(3_600_000)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    value: str = ""
    explanation: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True, slots=True)
class Nominal:
    voltage_v: Decimal = Decimal(230)
    frequency_hz: Decimal = Decimal(50)
    voltage_low: Decimal = Decimal("0.85")
    voltage_high: Decimal = Decimal("1.10")
    frequency_tolerance: Decimal = Decimal("0.02")
    max_power_w: Decimal = Decimal(100_000)

    @property
    def voltage_range(self) -> tuple[Decimal, Decimal]:
        return self.voltage_v * self.voltage_low, self.voltage_v * self.voltage_high

    @property
    def frequency_range(self) -> tuple[Decimal, Decimal]:
        spread = self.frequency_hz * self.frequency_tolerance
        return self.frequency_hz - spread, self.frequency_hz + spread


def _within(value: Decimal, bounds: tuple[Decimal, Decimal]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _scale_hint(value: Decimal, bounds: tuple[Decimal, Decimal], unit: str) -> str | None:
    for factor in (Decimal(10), Decimal(100), Decimal(1000)):
        if _within(value / factor, bounds):
            return f"{value} {unit} is {factor} x too big: the register's scale is wrong"
        if _within(value * factor, bounds):
            return f"{value} {unit} is {factor} x too small: the register's scale is wrong"
    return None


def check_voltage(name: str, value_v: Decimal, nominal: Nominal) -> CheckResult:
    bounds = nominal.voltage_range
    shown = f"{value_v} V"
    if _within(value_v, bounds):
        return CheckResult(name, "pass", shown)
    low, high = (f"{bound.normalize():f}" for bound in bounds)
    expected = f"expected {low}-{high} V for a {nominal.voltage_v} V supply"
    if abs(value_v) > 1_000_000 or Decimal("0") < abs(value_v) < Decimal("0.001"):
        why = (
            f"{shown} is nonsense: the register is decoded wrongly; check the model's data type"
            " and word order (float32 ABCD vs CDAB) or whether this is the right meter model"
        )
    elif abs(value_v) < 5:
        why = (
            f"no voltage measured ({shown}): the meter's voltage input is not connected or the"
            " supply is off; check the live and neutral terminals (and the PT / fuse on a CT meter)"
        )
    elif hint := _scale_hint(value_v, bounds, "V"):
        why = f"{hint} ({expected}); check the model's scale for this register"
    else:
        why = (
            f"{shown} is out of range ({expected}): check the supply and the voltage wiring"
            " (phase on the right terminal, loose neutral, PT ratio); on a 120 V / 60 Hz network"
            " pass --nominal-voltage 120 --nominal-frequency 60"
        )
    return CheckResult(name, "fail", shown, why)


def check_frequency(value_hz: Decimal, nominal: Nominal) -> CheckResult:
    bounds = nominal.frequency_range
    shown = f"{value_hz} Hz"
    if _within(value_hz, bounds):
        return CheckResult("frequency", "pass", shown)
    low, high = (f"{bound.normalize():f}" for bound in bounds)
    if hint := _scale_hint(value_hz, bounds, "Hz"):
        why = f"{hint}; check the model's scale for the frequency register"
    elif value_hz == 0:
        why = "0 Hz: the meter measures no supply; check the voltage input and the supply"
    else:
        why = (
            f"{shown} is out of range (expected {low}-{high} Hz): the register is probably"
            " decoded wrongly (data type, word order) or this is not the right meter model;"
            " on a 60 Hz network pass --nominal-frequency 60"
        )
    return CheckResult("frequency", "fail", shown, why)


def check_energy_progress(
    *,
    first_kwh: Decimal,
    second_kwh: Decimal,
    elapsed_s: Decimal,
    power_w: Decimal | None,
    step_kwh: Decimal,
    nominal: Nominal,
) -> CheckResult:
    """Two reads of the energy register ``elapsed_s`` apart."""
    name = "energy counts up"
    delta = second_kwh - first_kwh
    shown = f"{first_kwh} -> {second_kwh} kWh in {elapsed_s:.1f} s"
    if delta < 0:
        why = (
            f"energy went down by {-delta} kWh between two reads: a counter reset or meter"
            " exchange, or the register is decoded with the wrong data type / word order;"
            " read it again and compare with the meter's display"
        )
        return CheckResult(name, "fail", shown, why)
    ceiling_kwh = nominal.max_power_w * elapsed_s / WS_PER_KWH + 2 * step_kwh
    if delta > ceiling_kwh:
        why = (
            f"energy jumped by {delta} kWh in {elapsed_s:.1f} s, more than"
            f" {nominal.max_power_w} W could draw: a spike, or a wrong scale / word order"
        )
        return CheckResult(name, "fail", shown, why)
    if delta > 0:
        return CheckResult(name, "pass", shown)
    if power_w is None or power_w <= 0:
        return CheckResult(name, "pass", shown, "no load, so no movement expected")
    expected_kwh = power_w * elapsed_s / WS_PER_KWH
    if expected_kwh > 2 * step_kwh:
        why = (
            f"energy is stuck: the meter shows {power_w} W, so it should have counted about"
            f" {expected_kwh:.6f} kWh, but the register did not move; the meter's counter or"
            " firmware is frozen (power-cycle it), or the power register belongs to another meter"
        )
        return CheckResult(name, "fail", shown, why)
    why = (
        f"unchanged, but {power_w} W over {elapsed_s:.1f} s is less than two register steps"
        f" ({step_kwh} kWh): not conclusive; rerun with a longer --settle-s or more load"
    )
    return CheckResult(name, "warn", shown, why)


def check_bands(
    *, total_kwh: Decimal, bands_kwh: Mapping[str, Decimal], step_kwh: Decimal
) -> CheckResult:
    name = "bands sum to total"
    band_sum = sum(bands_kwh.values(), Decimal(0))
    tolerance = step_kwh * len(bands_kwh)
    shown = (
        f"{' + '.join(f'{b} {v}' for b, v in bands_kwh.items())} = {band_sum}; total {total_kwh}"
    )
    if abs(band_sum - total_kwh) <= tolerance:
        return CheckResult(name, "pass", shown)
    why = (
        f"the band registers sum to {band_sum} kWh but the total reads {total_kwh} kWh"
        f" (off by {band_sum - total_kwh}): a band register is mapped to the wrong address or"
        " missing from the map, or the meter's tariff bands are set up differently; compare each"
        " band with the meter's display"
    )
    return CheckResult(name, "fail", shown, why)
