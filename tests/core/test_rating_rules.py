"""Rating rules one by one: registers, tariff changes, calendars, tax and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.core.deduction import CycleState, LineKind, MeterReading, Method
from gateway.core.errors import (
    BandRegisterMismatchError,
    NegativeConsumptionError,
    NoTariffInForceError,
    ReadingOrderError,
)
from gateway.core.rating import apportion, rate_interval, rate_standing_charge
from tests.core.samples import FLAT_EUR, ONTARIO_TOU_WINTER_2024, SHANGHAI_TIERED_TOU, tariff

D = Decimal
LONDON = ZoneInfo("Europe/London")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def reading(ts: datetime, kwh: str, **bands: str) -> MeterReading:
    return MeterReading(ts, D(kwh), {k: D(v) for k, v in bands.items()} if bands else None)


def sh(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


class TestBandRegisters:
    plan = tariff(SHANGHAI_TIERED_TOU)

    def test_band_registers_are_used_as_the_meter_counted(self) -> None:
        # 12 h mostly valley by the clock, but the meter says 10 kWh peak and 2 kWh valley.
        deduction = rate_interval(
            reading(sh(2024, 3, 4, 21), "100", peak="60", valley="40"),
            reading(sh(2024, 3, 5, 9), "112", peak="70", valley="42"),
            self.plan,
        )
        assert deduction.method is Method.BAND_REGISTERS
        assert not deduction.estimated
        by_band = {ln.band: ln.energy_kwh for ln in deduction.lines}
        assert by_band == {"peak": 10, "valley": 2}
        assert deduction.exact_amount == D("10") * D("0.617") + D("2") * D("0.307")

    def test_registers_within_tolerance_bill_the_total(self) -> None:
        deduction = rate_interval(
            reading(sh(2024, 3, 4, 21), "100.00", peak="60.00", valley="40.00"),
            reading(sh(2024, 3, 5, 9), "112.01", peak="70.00", valley="42.00"),
            self.plan,
        )
        assert sum(ln.energy_kwh for ln in deduction.lines) == D("12.01")
        assert "0.01 kWh difference is added to 'peak'" in deduction.notes[0]

    def test_registers_that_disagree_are_refused_with_the_reason(self) -> None:
        with pytest.raises(BandRegisterMismatchError, match=r"difference 0\.05 exceeds .* 0\.02"):
            rate_interval(
                reading(sh(2024, 3, 4, 21), "100", peak="60", valley="40"),
                reading(sh(2024, 3, 5, 9), "112.05", peak="70", valley="42"),
                self.plan,
            )

    def test_unknown_band_is_refused(self) -> None:
        with pytest.raises(BandRegisterMismatchError, match="'sharp' is not a band"):
            rate_interval(
                reading(sh(2024, 3, 4, 21), "1", peak="0", sharp="1"),
                reading(sh(2024, 3, 5, 9), "2", peak="0", sharp="2"),
                self.plan,
            )


def test_a_tariff_change_inside_the_interval_splits_it() -> None:
    # Flat 0.2734 EUR until 2024-04-01 00:00 London (BST), 0.3000 after. 10 kWh over 10 h, half
    # on each side: 5 x 0.2734 + 5 x 0.3000 = 1.367 + 1.5 = 2.867 -> 2.87.
    plan = tariff(FLAT_EUR, dict(FLAT_EUR, version=2, effective_from="2024-04-01",
                                 price_per_kwh="0.3000"))  # fmt: skip
    change = datetime(2024, 4, 1, tzinfo=LONDON)
    deduction = rate_interval(
        MeterReading(change - timedelta(hours=5), D(0)),
        MeterReading(change + timedelta(hours=5), D(10)),
        plan,
    )
    assert [(ln.tariff_version, ln.energy_kwh) for ln in deduction.lines] == [
        ("flat@v1", D(5)),
        ("flat@v2", D(5)),
    ]
    assert deduction.amount == D("2.87")
    assert deduction.method is Method.APPORTIONED


def test_spring_forward_band_boundary_inside_the_missing_hour() -> None:
    # London, 2024-03-31: 01:00 GMT jumps to 02:00 BST. A band that starts at 01:30 starts
    # at the jump; the day has 23 hours and the bands still tile it exactly.
    data = dict(FLAT_EUR, tiers=[{"prices": {"night": "0.10", "day": "0.30"}}])
    del data["price_per_kwh"]
    data["time_of_use"] = [
        {
            "windows": [
                {"band": "night", "start": "00:00", "end": "01:30"},
                {"band": "day", "start": "01:30", "end": "00:00"},
            ]
        }
    ]
    version = tariff(data).versions[0]
    plan = version.plan(date(2024, 3, 31))
    assert plan.end - plan.start == timedelta(hours=23)
    assert [(s.start.hour, s.end.hour, version.bands[s.band]) for s in plan.slices] == [
        (0, 1, "night"),
        (1, 23, "day"),
    ]
    assert sum(((s.end - s.start) for s in plan.slices), timedelta()) == timedelta(hours=23)


def test_leap_day_is_a_day_and_the_month_boundary_splits_the_cycle() -> None:
    plan = tariff(dict(FLAT_EUR, timezone="UTC"))
    deduction = rate_interval(
        MeterReading(datetime(2024, 2, 28, 12, tzinfo=UTC), D(0)),
        MeterReading(datetime(2024, 3, 1, 12, tzinfo=UTC), D(48)),
        plan,
        CycleState(datetime(2024, 2, 1, tzinfo=UTC)),
    )
    # 48 h: 36 h in February (12 h of the 28th + the 29th), 12 h in March.
    assert [(ln.cycle_start.month, ln.energy_kwh) for ln in deduction.lines] == [
        (2, D(36)),
        (3, D(12)),
    ]
    assert [step.cycle_start[:10] for step in deduction.rounding] == ["2024-02-01", "2024-03-01"]
    assert deduction.cycle.start == datetime(2024, 3, 1, tzinfo=UTC)
    assert deduction.cycle.consumed_kwh == 12


def test_carry_keeps_the_cycle_exact_across_many_small_deductions() -> None:
    # 1,000 readings of 0.001 kWh at 0.2734: each exact 0.0002734, none worth a cent alone.
    plan = tariff(FLAT_EUR)
    t, cycle, charged = datetime(2024, 6, 1, tzinfo=UTC), None, D(0)
    for i in range(1000):
        deduction = rate_interval(
            MeterReading(t + timedelta(minutes=i), D(i) / 1000),
            MeterReading(t + timedelta(minutes=i + 1), D(i + 1) / 1000),
            plan,
            cycle,
        )
        cycle, charged = deduction.cycle, charged + deduction.amount
    assert charged == D("0.27")  # 1 kWh x 0.2734 rounded once, not 1,000 x 0.00
    assert cycle is not None
    assert cycle.exact_charge == D("0.2734")


def test_standing_charge_and_tax_on_top_of_prices() -> None:
    data = dict(FLAT_EUR, prices_include_tax=False, tax_rate="0.05",
                standing_charge_per_day="0.4567")  # fmt: skip
    plan = tariff(data)
    charge = rate_standing_charge(plan, date(2024, 6, 3))
    (line,) = charge.lines
    assert line.kind is LineKind.STANDING_CHARGE
    assert line.amount == D("0.479535")  # 0.4567 x 1.05
    assert line.tax == D("0.022835")
    assert charge.amount == D("0.48")
    assert charge.tax == D("0.02")
    assert charge.method is Method.STANDING_CHARGE
    energy = rate_interval(
        MeterReading(datetime(2024, 6, 3, 8, tzinfo=UTC), D(0)),
        MeterReading(datetime(2024, 6, 3, 9, tzinfo=UTC), D(1)),
        plan,
        charge.cycle,
    )
    # 0.2734 x 1.05 = 0.28707; the cycle total 0.766605 rounds to 0.77, so 0.29 is charged.
    assert energy.exact_amount == D("0.28707")
    assert energy.amount == D("0.29")
    assert energy.rounding[0].carry_in == D("-0.000465")


def test_refusals_say_why() -> None:
    plan = tariff(FLAT_EUR)
    t = datetime(2024, 6, 1, tzinfo=UTC)
    with pytest.raises(ReadingOrderError, match="not after"):
        rate_interval(MeterReading(t, D(1)), MeterReading(t, D(2)), plan)
    with pytest.raises(NegativeConsumptionError, match="went down from 5 to 4"):
        rate_interval(MeterReading(t, D(5)), MeterReading(t + timedelta(hours=1), D(4)), plan)
    early = datetime(2019, 1, 1, tzinfo=UTC)
    with pytest.raises(NoTariffInForceError, match="no version of flat"):
        rate_interval(MeterReading(early, D(0)), MeterReading(t, D(1)), plan)


def test_apportion_is_exact_and_fair() -> None:
    parts = apportion(D("1"), [1, 1, 1])
    assert parts == [D("0.333334"), D("0.333333"), D("0.333333")]
    assert sum(apportion(D("2.0000005"), [3, 7])) == D("2.0000005")


def test_gap_of_weeks_in_time_of_use_is_apportioned_and_flagged() -> None:
    plan = tariff(ONTARIO_TOU_WINTER_2024)
    toronto = ZoneInfo("America/Toronto")
    deduction = rate_interval(
        MeterReading(datetime(2024, 11, 4, tzinfo=toronto), D(0)),
        MeterReading(datetime(2024, 11, 18, tzinfo=toronto), D(336)),
        plan,
    )
    assert deduction.estimated
    # Two weeks at 1 kWh/h: weekdays 10 x (12 off + 6 on + 6 mid), weekends 4 x 24 off.
    bands = {ln.band: ln.energy_kwh for ln in deduction.lines}
    assert bands == {"off_peak": 216, "on_peak": 60, "mid_peak": 60}
