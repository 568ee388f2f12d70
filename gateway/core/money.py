"""Exact money: Decimal only, rounded once per billing cycle with the carry shown."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)

# Internal precision for quantities that are not exact by construction (an apportioned share
# of a total, the tax contained in a tax-inclusive price). Amounts of energy x price are exact.
KWH_QUANTUM = Decimal("0.000001")
TAX_QUANTUM = Decimal("0.0000000001")


def minor_quantum(minor_unit: int) -> Decimal:
    """The smallest coin of a currency with `minor_unit` decimal places (2 -> 0.01)."""
    return Decimal(1).scaleb(-minor_unit)


def round_money(amount: Decimal, quantum: Decimal) -> Decimal:
    """Commercial rounding (half up, away from zero) to the currency's minor unit."""
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, minor_unit: int) -> int:
    """A rounded amount in integer minor units (12.34 EUR -> 1234)."""
    scaled = amount.scaleb(minor_unit)
    if scaled != scaled.to_integral_value():
        msg = f"{amount} is not a whole number of minor units"
        raise ValueError(msg)
    return int(scaled)


@dataclass(frozen=True, slots=True)
class RoundingStep:
    """How one deduction was rounded inside its billing cycle.

    The cycle keeps its exact (unrounded) running charge. A deduction charges the difference
    between the rounded running charge after it and before it, so the deductions of a cycle
    always add up to the exact cycle charge rounded once, however many readings there are.
    A customer checks it as: charged = rounded_after - rounded_before.
    """

    cycle_start: str
    exact_before: Decimal
    rounded_before: Decimal
    exact_amount: Decimal
    exact_after: Decimal
    rounded_after: Decimal
    charged: Decimal

    @property
    def carry_in(self) -> Decimal:
        """Exact money owed before this deduction but not yet charged (may be negative)."""
        return self.exact_before - self.rounded_before

    @property
    def carry_out(self) -> Decimal:
        """Exact money owed after this deduction but not yet charged (may be negative)."""
        return self.exact_after - self.rounded_after

    @classmethod
    def carry(
        cls, cycle_start: str, exact_before: Decimal, exact_amount: Decimal, quantum: Decimal
    ) -> RoundingStep:
        """Round `exact_amount` given the cycle's exact running charge before it."""
        exact_after = exact_before + exact_amount
        rounded_before = round_money(exact_before, quantum)
        rounded_after = round_money(exact_after, quantum)
        return cls(
            cycle_start=cycle_start,
            exact_before=exact_before,
            rounded_before=rounded_before,
            exact_amount=exact_amount,
            exact_after=exact_after,
            rounded_after=rounded_after,
            charged=rounded_after - rounded_before,
        )


def carry_round(exact_before: Decimal, exact_amount: Decimal, quantum: Decimal) -> Decimal:
    """Charge for `exact_amount` given the cycle's exact running total before it."""
    return round_money(exact_before + exact_amount, quantum) - round_money(exact_before, quantum)
