"""VirtualMeter physics, load profiles and band schedules; no sockets."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.models import MODELS, PREPAID_V1
from simulators.faults import CounterReset, FaultScript, MeterExchange
from simulators.meter import AcceleratedClock, ManualClock, VirtualMeter
from simulators.profiles import (
    FOUR_BANDS,
    RESIDENTIAL,
    BandSchedule,
    ConstantLoad,
    DailyCurve,
    RecordedLoad,
)

START = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 in Asia/Shanghai


def meter(clock: ManualClock, watts: str = "1000", **options: object) -> VirtualMeter:
    return VirtualMeter(clock=clock, profile=ConstantLoad(Decimal(watts)), **options)  # type: ignore[arg-type]


def test_constant_load_integrates_exactly() -> None:
    clock = ManualClock(START)
    m = meter(clock, "1234.5")
    clock.advance(timedelta(hours=2, microseconds=1))
    # 1234.5 W * 7200.000001 s = 8888400.0012345 Ws
    assert m.energy_ws == Decimal("8888400.0012345")


@settings(max_examples=50)
@given(steps=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=20))
def test_energy_is_the_same_however_the_time_is_sliced(steps: list[int]) -> None:
    sliced_clock, whole_clock = ManualClock(START), ManualClock(START)
    sliced, whole = meter(sliced_clock, bands=FOUR_BANDS), meter(whole_clock, bands=FOUR_BANDS)
    for step in steps:
        sliced_clock.advance(timedelta(microseconds=step))
        sliced.advance()
    whole_clock.advance(timedelta(microseconds=sum(steps)))
    assert sliced.energy_kwh == whole.energy_kwh
    for band in FOUR_BANDS.bands:
        assert sliced.band_energy_kwh(band) == whole.band_energy_kwh(band)


def test_bands_follow_the_schedule_and_sum_to_the_total() -> None:
    clock = ManualClock(START)
    m = meter(clock, bands=FOUR_BANDS)
    clock.advance(timedelta(days=1))
    bands = {band: m.band_energy_kwh(band) for band in FOUR_BANDS.bands}
    assert bands == {"valley": 9, "flat": 6, "peak": 5, "sharp": 4}
    assert sum(bands.values()) == m.energy_kwh == 24


def test_open_relay_draws_nothing_and_balance_is_deducted() -> None:
    clock = ManualClock(START)
    m = meter(clock, balance=Decimal("10.00"), price_per_kwh=Decimal("0.50"))
    clock.advance(timedelta(hours=2))
    m.set_relay(closed=False)
    clock.advance(timedelta(hours=5))
    assert m.energy_kwh == 2
    assert m.power_w == 0
    assert m._balance_now() == Decimal("9.00")


def test_total_register_is_the_sum_of_the_shown_band_registers() -> None:
    clock = ManualClock(START)
    m = meter(clock, "1", bands=FOUR_BANDS)  # 1 W: bands fill slowly, rounding matters
    clock.advance(timedelta(hours=20))
    total = PREPAID_V1.find("energy_total_kwh")
    assert total is not None
    shown_bands = [m.value_for(spec, PREPAID_V1) for spec in PREPAID_V1.band_registers]
    shown_total = m.value_for(total, PREPAID_V1)
    floored = sum(
        (b.quantize(Decimal("0.01"), rounding="ROUND_DOWN") for b in shown_bands), Decimal(0)
    )
    assert shown_total == floored


def test_residential_curve_day() -> None:
    clock = ManualClock(START)
    m = VirtualMeter(clock=clock, profile=RESIDENTIAL)
    clock.advance(timedelta(days=1))
    assert m.energy_kwh == sum(RESIDENTIAL.hourly_w, Decimal(0)) / 1000
    with pytest.raises(ValueError, match="24 hourly"):
        DailyCurve((Decimal(1),))


def test_recorded_csv_profile(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text(
        "timestamp,power_w\n"
        "2026-03-02T16:00:00+00:00,1000\n"
        "2026-03-02T16:30:00+00:00,3000\n"
        "2026-03-02T17:00:00+00:00,0\n"
    )
    clock = ManualClock(START)
    m = VirtualMeter(clock=clock, profile=RecordedLoad.from_csv(path))
    clock.advance(timedelta(hours=3))
    assert m.energy_kwh == 2  # 0.5 h at 1 kW + 0.5 h at 3 kW, then nothing


def test_band_schedule_must_cover_the_day() -> None:
    with pytest.raises(ValueError, match="00:00"):
        BandSchedule(((time(8), "flat"),))


def test_accelerated_clock_runs_faster() -> None:
    clock = AcceleratedClock(START, factor=3600)
    before = wall.monotonic()
    first = clock.now()
    while wall.monotonic() - before < 0.01:
        pass
    assert clock.now() - first >= timedelta(seconds=36)


def test_fault_events_apply_once() -> None:
    clock = ManualClock(START)
    m = meter(clock)
    script = FaultScript()
    script.add(CounterReset(), start=START + timedelta(hours=1))
    script.add(
        MeterExchange(serial_number=9, opening_energy_kwh=Decimal(100)),
        start=START + timedelta(hours=3),
    )
    model = MODELS["prepaid-v1"]
    clock.advance(timedelta(hours=2))
    script.apply_events(m, model, clock.now())
    assert m.energy_kwh == 0  # reset at the moment it is applied
    clock.advance(timedelta(hours=1))
    script.apply_events(m, model, clock.now())
    script.apply_events(m, model, clock.now())
    assert (m.energy_kwh, m.serial_number) == (Decimal(100), 9)
