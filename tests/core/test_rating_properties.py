"""Invariants of rating, for any readings hypothesis can think of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.deduction import CycleState, Deduction, MeterReading
from gateway.core.money import KWH_QUANTUM, round_money
from gateway.core.rating import rate_interval
from gateway.core.tariff import Tariff
from tests.core.samples import (
    FLAT_EUR,
    ONTARIO_TIERED_WINTER_2024,
    ONTARIO_TOU_WINTER_2024,
    SHANGHAI_TIERED_TOU,
    tariff,
)

PLANS = {
    "flat": tariff(FLAT_EUR),
    "tiered": tariff(ONTARIO_TIERED_WINTER_2024),
    "tou": tariff(ONTARIO_TOU_WINTER_2024),
    "tiered+tou": tariff(SHANGHAI_TIERED_TOU),
}
T0 = datetime(2024, 11, 1, 4, tzinfo=UTC)
CENT = Decimal("0.01")
MAX_PRICE = Decimal("0.977")

plans = st.sampled_from(sorted(PLANS))
# Up to 200 days after 2024-11-01: both DST changes of 2025 in Toronto, the new year.
offsets = st.integers(min_value=0, max_value=200 * 86400)
durations = st.integers(min_value=1, max_value=40 * 86400)
kwh = st.decimals(min_value=0, max_value=5000, places=3)
consumed = st.decimals(min_value=0, max_value=6000, places=2)


def rate(plan: str, t0: datetime, t1: datetime, e0: Decimal, e1: Decimal,
         cycle: CycleState | None) -> Deduction:  # fmt: skip
    return rate_interval(MeterReading(t0, e0), MeterReading(t1, e1), PLANS[plan], cycle)


def state_at(plan: Tariff, t: datetime, used: Decimal) -> CycleState:
    version = plan.versions[plan.in_force(t)]
    return CycleState(version.plan(version.local_day(t)).cycle_start, consumed_kwh=used)


@given(plans, offsets, durations, kwh, consumed)
@settings(max_examples=300, deadline=None)
def test_lines_add_up_and_each_line_checks_with_a_calculator(
    plan: str, offset: int, seconds: int, energy: Decimal, used: Decimal
) -> None:
    t0 = T0 + timedelta(seconds=offset)
    t1 = t0 + timedelta(seconds=seconds)
    deduction = rate(plan, t0, t1, Decimal(0), energy, state_at(PLANS[plan], t0, used))
    assert sum(line.energy_kwh for line in deduction.lines) == energy
    assert sum(line.amount for line in deduction.lines) == deduction.exact_amount
    for line in deduction.lines:
        assert line.amount == line.energy_kwh * line.unit_price  # these plans: no tax on top
        assert t0 <= line.start < line.end <= t1
    assert sum(step.charged for step in deduction.rounding) == deduction.amount
    assert abs(deduction.amount - deduction.exact_amount) <= CENT * len(deduction.rounding)


@given(plans, offsets, durations, st.floats(0.001, 0.999), kwh, consumed)
@settings(max_examples=300, deadline=None)
def test_splitting_an_interval_changes_the_total_by_at_most_the_rounding(
    plan: str, offset: int, seconds: int, at: float, energy: Decimal, used: Decimal
) -> None:
    t0 = T0 + timedelta(seconds=offset)
    t2 = t0 + timedelta(seconds=seconds)
    t1 = t0 + timedelta(seconds=max(1, min(seconds - 1, round(seconds * at))))
    if not t0 < t1 < t2:
        return
    middle = (energy * Decimal((t1 - t0) / (t2 - t0))).quantize(Decimal("0.001"))
    cycle = state_at(PLANS[plan], t0, used)
    whole = rate(plan, t0, t2, Decimal(0), energy, cycle)
    first = rate(plan, t0, t1, Decimal(0), middle, cycle)
    second = rate(plan, t1, t2, middle, energy, first.cycle)
    # The exact charges differ only by how a part register reading apportions the kWh: at
    # most the apportioning quantum per slice, at the highest price, plus tier effects from
    # kWh moving between slices (bounded by the price spread on the moved kWh).
    moved = abs(middle - whole_share(whole, t1))
    tolerance = moved * MAX_PRICE + KWH_QUANTUM * 400 * MAX_PRICE
    assert abs(first.exact_amount + second.exact_amount - whole.exact_amount) <= tolerance
    if moved == 0:
        assert abs(first.amount + second.amount - whole.amount) <= CENT
    one_cycle = len({line.cycle_start for line in whole.lines}) <= 1
    if plan == "flat" or (plan == "tiered" and one_cycle):  # the split cannot move a price
        assert first.exact_amount + second.exact_amount == whole.exact_amount
        assert abs(first.amount + second.amount - whole.amount) <= CENT


def whole_share(deduction: Deduction, cut: datetime) -> Decimal:
    """kWh the whole-interval rating put before `cut` (slices are cut at any price change)."""
    before = Decimal(0)
    for line in deduction.lines:
        if line.end <= cut:
            before += line.energy_kwh
        elif line.start < cut:
            span = (line.end - line.start).total_seconds()
            before += line.energy_kwh * Decimal((cut - line.start).total_seconds() / span)
    return before.quantize(Decimal("0.001"))


@given(plans, offsets, durations, kwh, kwh, consumed)
@settings(max_examples=300, deadline=None)
def test_cost_is_monotone_in_kwh(
    plan: str, offset: int, seconds: int, a: Decimal, b: Decimal, used: Decimal
) -> None:
    t0 = T0 + timedelta(seconds=offset)
    t1 = t0 + timedelta(seconds=seconds)
    cycle = state_at(PLANS[plan], t0, used)
    low, high = sorted((a, b))
    cheap = rate(plan, t0, t1, Decimal(0), low, cycle)
    dear = rate(plan, t0, t1, Decimal(0), high, cycle)
    assert cheap.exact_amount <= dear.exact_amount
    assert cheap.amount <= dear.amount


@given(
    plans,
    st.lists(st.integers(min_value=60, max_value=3 * 86400), min_size=1, max_size=60),
    st.lists(st.decimals(min_value=0, max_value=80, places=3), min_size=60, max_size=60),
)
@settings(max_examples=150, deadline=None)
def test_a_cycle_of_deductions_is_its_exact_charge_rounded_once(
    plan: str, gaps: list[int], steps: list[Decimal]
) -> None:
    t, energy, cycle = T0, Decimal(0), None
    charged = Decimal(0)
    exact: dict[datetime, Decimal] = {}
    for gap, step in zip(gaps, steps, strict=False):
        deduction = rate(plan, t, t + timedelta(seconds=gap), energy, energy + step, cycle)
        charged += deduction.amount
        for line in deduction.lines:
            exact[line.cycle_start] = exact.get(line.cycle_start, Decimal(0)) + line.amount
        t, energy, cycle = t + timedelta(seconds=gap), energy + step, deduction.cycle
    # Each cycle's deductions add up to that cycle's exact charge rounded once: no drift.
    assert charged == sum((round_money(total, CENT) for total in exact.values()), Decimal(0))
