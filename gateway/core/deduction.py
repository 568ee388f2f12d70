"""What rating takes and gives: readings, the cycle's running state, priced lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from gateway.core.money import ZERO, RoundingStep


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A register value at an instant: the total, and per-band registers if the meter has them.

    Values are already multiplied by the CT ratio and corrected for rollover or exchange.
    """

    ts: datetime
    energy_kwh: Decimal
    bands_kwh: Mapping[str, Decimal] | None = None


@dataclass(frozen=True, slots=True)
class CycleState:
    """An account's billing cycle so far: consumption for the tiers, exact charge for rounding."""

    start: datetime
    consumed_kwh: Decimal = ZERO
    exact_charge: Decimal = ZERO
    exact_tax: Decimal = ZERO


class Method(StrEnum):
    """How the interval's kWh were assigned to tariff slices."""

    SINGLE_SLICE = "single slice: the whole interval has one price"
    APPORTIONED = "total register only: kWh apportioned to slices by elapsed time"
    BAND_REGISTERS = "per-band registers: kWh per band as the meter counted them"
    STANDING_CHARGE = "daily standing charge"


class LineKind(StrEnum):
    ENERGY = "energy"
    STANDING_CHARGE = "standing_charge"


@dataclass(frozen=True, slots=True)
class Line:
    """One priced line. Check it as: amount = quantity x unit_price (+ tax if prices exclude it).

    `energy_kwh` is the quantity for energy lines; a standing charge line is one day.
    `amount` is what the customer pays, tax included; `tax` is the part of it that is tax.
    Amounts are exact: the rounding to the currency's minor unit happens once per deduction
    on the cycle's running total, see Deduction.rounding.
    """

    kind: LineKind
    start: datetime
    end: datetime
    tariff_version: str
    cycle_start: datetime
    tier: int | None
    band: str | None
    energy_kwh: Decimal
    unit_price: Decimal
    amount: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class Deduction:
    """The priced result of one interval (or one day's standing charge).

    `exact_amount` is the sum of the lines; `amount` is what is charged, in whole minor units,
    carried through the cycle's running total so that a cycle's deductions add up to its
    exact charge rounded once.
    """

    start: datetime
    end: datetime
    currency: str
    energy_kwh: Decimal
    lines: tuple[Line, ...]
    exact_amount: Decimal
    amount: Decimal
    tax: Decimal
    rounding: tuple[RoundingStep, ...]
    method: Method
    notes: tuple[str, ...]
    cycle: CycleState

    @property
    def estimated(self) -> bool:
        """True when kWh were apportioned by time rather than measured per slice."""
        return self.method is Method.APPORTIONED
