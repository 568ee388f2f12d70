"""Published residential tariffs against bills worked out by hand (sources in samples.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from gateway.core.deduction import CycleState, Deduction, MeterReading, Method
from gateway.core.rating import rate_interval
from gateway.core.tariff import Tariff
from tests.core.samples import (
    ONTARIO_TIERED_WINTER_2024,
    ONTARIO_TOU_WINTER_2024,
    SHANGHAI_TIERED_TOU,
    tariff,
)

TORONTO = ZoneInfo("America/Toronto")
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=zone)


def run(readings: list[tuple[datetime, str]], plan: Tariff) -> list[Deduction]:
    """Rate consecutive readings, threading the cycle state like the ledger does."""
    cycle = None
    deductions = []
    for (t0, e0), (t1, e1) in pairwise(readings):
        deduction = rate_interval(MeterReading(t0, D(e0)), MeterReading(t1, D(e1)), plan, cycle)
        cycle = deduction.cycle
        deductions.append(deduction)
    return deductions


def by_band(deductions: list[Deduction]) -> dict[str | None, Decimal]:
    totals: dict[str | None, Decimal] = {}
    for deduction in deductions:
        for line in deduction.lines:
            totals[line.band] = totals.get(line.band, D(0)) + line.energy_kwh
    return totals


def test_ontario_tou_weekday_read_at_each_band_boundary() -> None:
    # Tuesday 2024-11-05. Hand bill (cents): off-peak 00-07h 3.5 kWh + 19-24h 4.0 kWh = 7.5 x
    # 7.6 = 57.0; on-peak 07-11h 2.5 kWh + 17-19h 3.0 kWh = 5.5 x 15.8 = 86.9; mid-peak 11-17h
    # 4.2 kWh x 12.2 = 51.24. Exact 195.14 cents -> CAD 1.95 (1.9514 rounded once).
    day = (2024, 11, 5)
    readings = [
        (local(TORONTO, *day, 0), "1000.0"),
        (local(TORONTO, *day, 7), "1003.5"),
        (local(TORONTO, *day, 11), "1006.0"),
        (local(TORONTO, *day, 17), "1010.2"),
        (local(TORONTO, *day, 19), "1013.2"),
        (local(TORONTO, 2024, 11, 6, 0), "1017.2"),
    ]
    deductions = run(readings, tariff(ONTARIO_TOU_WINTER_2024))
    assert all(d.method is Method.SINGLE_SLICE for d in deductions)
    assert by_band(deductions) == {"off_peak": D("7.5"), "on_peak": D("5.5"), "mid_peak": D("4.2")}
    assert sum(d.exact_amount for d in deductions) == D("1.9514")
    assert [d.amount for d in deductions] == [D("0.27"), D("0.39"), D("0.51"), D("0.48"), D("0.30")]
    assert sum(d.amount for d in deductions) == D("1.95")


def test_ontario_tou_one_daily_reading_is_apportioned_by_time() -> None:
    # 24 kWh over Tuesday 2024-11-05, total register only: 1 kWh per hour. Off-peak 12 h,
    # on-peak 6 h, mid-peak 6 h: 12 x 0.076 + 6 x 0.158 + 6 x 0.122 = 0.912 + 0.948 + 0.732
    # = 2.592 -> CAD 2.59, and the deduction says it was apportioned.
    (deduction,) = run(
        [(local(TORONTO, 2024, 11, 5, 0), "0"), (local(TORONTO, 2024, 11, 6, 0), "24")],
        tariff(ONTARIO_TOU_WINTER_2024),
    )
    assert deduction.method is Method.APPORTIONED
    assert deduction.estimated
    assert by_band([deduction]) == {"off_peak": 12, "on_peak": 6, "mid_peak": 6}
    assert deduction.exact_amount == D("2.592")
    assert deduction.amount == D("2.59")


def test_ontario_tou_weekend_holiday_and_dst_day_are_all_off_peak() -> None:
    # Sunday 2024-11-03 has 25 hours (EDT -> EST); Wednesday 2024-12-25 is a holiday.
    plan = tariff(ONTARIO_TOU_WINTER_2024)
    (sunday,) = run(
        [(local(TORONTO, 2024, 11, 3, 0), "0"), (local(TORONTO, 2024, 11, 4, 0), "25")], plan
    )
    assert sunday.end - sunday.start == timedelta(hours=25)
    assert by_band([sunday]) == {"off_peak": 25}
    assert sunday.amount == D("1.90")  # 25 x 0.076
    (christmas,) = run(
        [(local(TORONTO, 2024, 12, 25, 0), "0"), (local(TORONTO, 2024, 12, 26, 0), "10")], plan
    )
    assert by_band([christmas]) == {"off_peak": 10}


def test_ontario_tiered_month_of_quarter_hours_adds_up_to_the_hand_bill() -> None:
    # November 2024, constant 1,250 kWh over the month read every 15 minutes (2,880 readings
    # on a 30-day month with a 25-hour day: 2,884 quarter hours). Hand bill: 1,000 kWh x
    # 0.093 + 250 kWh x 0.110 = 93.00 + 27.50 = CAD 120.50, charged to the cent.
    start = local(TORONTO, 2024, 11, 1).astimezone(ZoneInfo("UTC"))
    end = local(TORONTO, 2024, 12, 1).astimezone(ZoneInfo("UTC"))
    steps = int((end - start) / timedelta(minutes=15))
    assert steps == 2884
    kwh_per_step = D(1250) / steps
    readings = [
        (start + timedelta(minutes=15 * i), str((kwh_per_step * i).quantize(D("0.001"))))
        for i in range(steps)
    ]
    readings.append((end, "1250"))
    deductions = run(readings, tariff(ONTARIO_TIERED_WINTER_2024))
    assert sum(d.energy_kwh for d in deductions) == 1250
    assert sum(d.amount for d in deductions) == D("120.50")
    crossing = [d for d in deductions if len(d.lines) == 2]
    assert len(crossing) == 1
    assert [line.tier for line in crossing[0].lines] == [1, 2]
    assert crossing[0].cycle.consumed_kwh > 1000


def test_ontario_tiered_new_month_resets_the_tiers() -> None:
    # 1,100 kWh in November leaves 100 kWh in tier 2; December starts again at tier 1.
    plan = tariff(ONTARIO_TIERED_WINTER_2024)
    deductions = run(
        [
            (local(TORONTO, 2024, 11, 1), "0"),
            (local(TORONTO, 2024, 11, 30, 12), "1100"),
            (local(TORONTO, 2024, 12, 1, 12), "1140"),
        ],
        plan,
    )
    november, spanning = deductions
    assert november.amount == D("104.00")  # 93.00 + 100 x 0.11
    # 40 kWh over 24 h, 12 h each side of midnight: 20 kWh in tier 2 of November, 20 kWh in
    # tier 1 of December: 2.20 + 1.86 = 4.06, rounded per cycle.
    assert [(line.tier, line.energy_kwh) for line in spanning.lines] == [(2, D(20)), (1, D(20))]
    assert [step.charged for step in spanning.rounding] == [D("2.20"), D("1.86")]
    assert spanning.amount == D("4.06")
    assert spanning.cycle.consumed_kwh == 20
    assert spanning.cycle.start == local(TORONTO, 2024, 12, 1)


def test_shanghai_combined_tiers_and_bands_with_vat_inside_the_price() -> None:
    # The account has used 3,100 kWh this year. A reading 21:00 -> 09:00 next day (12 h,
    # 30 kWh, total register only): peak 21-22h 1 h, valley 22-06h 8 h, peak 06-09h 3 h.
    # 2.5 kWh/h: peak 2.5 kWh tier 1 -> 0.617 = 1.5425; valley 20 kWh: 17.5 kWh fill tier 1
    # -> 0.307 = 5.3725, 2.5 kWh tier 2 -> 0.337 = 0.8425; peak 7.5 kWh tier 2 -> 0.677 =
    # 5.0775. Exact 12.835 -> CNY 12.84 (half up), of which VAT 13/113.
    plan = tariff(SHANGHAI_TIERED_TOU)
    year_start = local(SHANGHAI, 2024, 1, 1)
    state = CycleState(year_start, consumed_kwh=D(3100))
    deduction = rate_interval(
        MeterReading(local(SHANGHAI, 2024, 3, 4, 21), D("3100")),
        MeterReading(local(SHANGHAI, 2024, 3, 5, 9), D("3130")),
        plan,
        state,
    )
    lines = [(ln.tier, ln.band, ln.energy_kwh, ln.unit_price, ln.amount) for ln in deduction.lines]
    assert lines == [
        (1, "peak", D("2.5"), D("0.617"), D("1.5425")),
        (1, "valley", D("17.5"), D("0.307"), D("5.3725")),
        (2, "valley", D("2.5"), D("0.337"), D("0.8425")),
        (2, "peak", D("7.5"), D("0.677"), D("5.0775")),
    ]
    assert deduction.exact_amount == D("12.835")
    assert deduction.amount == D("12.84")
    assert deduction.tax == D("1.48")  # 12.835 x 0.13 / 1.13 = 1.4766 -> 1.48
    assert deduction.cycle.consumed_kwh == 3130


def test_shanghai_large_household_allowance_moves_every_tier_bound() -> None:
    # +100 kWh a month per tier boundary on an annual cycle: 3,120 + 1,200 = 4,320 kWh.
    plan = tariff(SHANGHAI_TIERED_TOU)
    state = CycleState(local(SHANGHAI, 2024, 1, 1), consumed_kwh=D(4300))
    deduction = rate_interval(
        MeterReading(local(SHANGHAI, 2024, 10, 1, 10), D("0")),
        MeterReading(local(SHANGHAI, 2024, 10, 1, 12), D("40")),
        plan,
        state,
        extra_kwh_per_month=D(100),
    )
    assert [(ln.tier, ln.energy_kwh) for ln in deduction.lines] == [(1, D(20)), (2, D(20))]
