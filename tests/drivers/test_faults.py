"""Simulator faults produce the driver errors and values the gateway must handle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from drivers.errors import (
    EncodeError,
    InvalidValueError,
    MeterUnreachableError,
    ModbusExceptionReplyError,
    RelayNotConfirmedError,
    UnsupportedOperationError,
)
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.models import MODELS, PREPAID_V1
from simulators.faults import (
    ClockDrift,
    CounterReset,
    ExceptionReply,
    InvalidReadings,
    MeterExchange,
    Offline,
    RelayRefuses,
    Rollover,
    SlowAnswers,
    Spike,
    StuckValue,
    counter_wrap_kwh,
)
from simulators.modbus_server import SimulatedUnit
from tests.drivers.conftest import Bench

pytestmark = pytest.mark.anyio
HOUR = timedelta(hours=1)


@pytest.fixture
async def link(bench: Bench) -> AsyncIterator[ModbusLink]:
    link = ModbusLink.tcp("127.0.0.1", bench.port)
    yield link
    link.close()


def driver_for(
    bench: Bench, link: ModbusLink, model_name: str, **options: float
) -> ModbusMeterDriver:
    return ModbusMeterDriver(
        meter_id=model_name,
        link=link,
        model=MODELS[model_name],
        unit_id=bench.unit_by_model[model_name],
        **options,  # type: ignore[arg-type]
    )


def unit(bench: Bench, model_name: str) -> SimulatedUnit:
    return bench.context.units[bench.unit_by_model[model_name]]


async def test_offline_meter_is_unreachable_never_a_stale_value(
    bench: Bench, link: ModbusLink
) -> None:
    driver = driver_for(bench, link, "prepaid-v1", timeout_s=0.2, retries=1, retry_backoff_s=0.01)
    assert (await driver.read()).energy_kwh == 0
    unit(bench, "prepaid-v1").faults.add(Offline(), start=bench.clock.now())
    with pytest.raises(MeterUnreachableError) as caught:
        await driver.read()
    assert caught.value.unit_id == bench.unit_by_model["prepaid-v1"]
    assert caught.value.meter_id == "prepaid-v1"
    assert str(bench.port) in caught.value.port
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_slow_answers_time_out_only_past_the_meters_timeout(
    bench: Bench, link: ModbusLink
) -> None:
    unit(bench, "abb-b2x").faults.add(SlowAnswers(0.3), start=bench.clock.now())
    with pytest.raises(MeterUnreachableError, match=r"no answer within 0\.1 s"):
        await driver_for(bench, link, "abb-b2x", timeout_s=0.1, retries=0).read()
    sample = await driver_for(bench, link, "abb-b2x", timeout_s=2.0, retries=0).read()
    assert sample.energy_kwh == 0


async def test_exception_reply(bench: Bench, link: ModbusLink) -> None:
    unit(bench, "eastron-sdm120").faults.add(ExceptionReply(code=4), start=bench.clock.now())
    with pytest.raises(ModbusExceptionReplyError) as caught:
        await driver_for(bench, link, "eastron-sdm120").read()
    assert (caught.value.exception_code, caught.value.function_code) == (4, 4)


async def test_absent_register_is_an_exception_reply(bench: Bench, link: ModbusLink) -> None:
    # a DTSU666 of the 0x401E kind asked at 0x101E: illegal data address
    sdm = driver_for(bench, link, "chint-dtsu666")
    sdm.unit_id = bench.unit_by_model["chint-dtsu666-4000"]
    bench.context.units[sdm.unit_id] = SimulatedUnit(
        unit(bench, "chint-dtsu666-4000").meter, MODELS["chint-dtsu666-4000"]
    )
    with pytest.raises(ModbusExceptionReplyError) as caught:
        await sdm.read()
    assert caught.value.exception_code == 2


async def test_invalid_marker_on_energy_raises(bench: Bench, link: ModbusLink) -> None:
    unit(bench, "abb-b2x").faults.add(InvalidReadings(), start=bench.clock.now())
    with pytest.raises(InvalidValueError) as caught:
        await driver_for(bench, link, "abb-b2x").read()
    assert caught.value.raw == 0xFFFF_FFFF_FFFF_FFFF
    unit(bench, "eastron-sdm120").faults.add(InvalidReadings(), start=bench.clock.now())
    with pytest.raises(InvalidValueError):
        await driver_for(bench, link, "eastron-sdm120").read()


async def test_counter_reset_and_meter_exchange(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "prepaid-v1")
    bench.clock.advance(2 * HOUR)
    assert (await driver.read()).energy_kwh == 2
    faults = unit(bench, "prepaid-v1").faults
    faults.add(CounterReset(), start=bench.clock.now())
    assert (await driver.read()).energy_kwh == 0
    faults.add(
        MeterExchange(serial_number=777, opening_energy_kwh=Decimal("12.34")),
        start=bench.clock.now() + HOUR,
    )
    bench.clock.advance(HOUR)
    sample = await driver.read()
    assert sample.energy_kwh == Decimal("12.34")
    assert sample.extras["serial_number"] == 777


async def test_rollover_wraps_the_register(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "prepaid-v1")
    unit(bench, "prepaid-v1").faults.add(Rollover(Decimal("0.5")), start=bench.clock.now())
    wrap = counter_wrap_kwh(PREPAID_V1)
    assert wrap == Decimal("42949672.96")
    assert (await driver.read()).energy_kwh == wrap - Decimal("0.5")
    bench.clock.advance(HOUR)  # 1 kWh more: past the wrap
    assert (await driver.read()).energy_kwh == Decimal("0.5")


async def test_spike_and_stuck_value(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "abb-b2x")
    faults = unit(bench, "abb-b2x").faults
    now = bench.clock.now()
    faults.add(Spike(Decimal(5000)), start=now + HOUR, end=now + 2 * HOUR)
    bench.clock.advance(HOUR)
    assert (await driver.read()).energy_kwh == Decimal(5001)
    bench.clock.advance(HOUR)
    assert (await driver.read()).energy_kwh == Decimal(2)
    faults.add(StuckValue(), start=bench.clock.now(), end=bench.clock.now() + 3 * HOUR)
    first = await driver.read()
    bench.clock.advance(2 * HOUR)
    stuck = await driver.read()
    assert stuck.energy_kwh == first.energy_kwh == 2
    assert stuck.read_at > first.read_at  # read anew, same value: VEE decides
    bench.clock.advance(HOUR)
    assert (await driver.read()).energy_kwh == Decimal(5)


async def test_clock_drift_shows_in_the_clock_register(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "prepaid-v1")
    honest = (await driver.read()).extras["clock_unix_s"]
    unit(bench, "prepaid-v1").faults.add(ClockDrift(offset_s=-90), start=bench.clock.now())
    assert (await driver.read()).extras["clock_unix_s"] == honest - 90


async def test_relay_open_and_close_are_confirmed_by_read_back(
    bench: Bench, link: ModbusLink
) -> None:
    driver = driver_for(bench, link, "prepaid-v1")
    await driver.set_relay(open=True)
    assert (await driver.read()).relay == "open"
    meter = unit(bench, "prepaid-v1").meter
    assert not meter.relay_closed
    bench.clock.advance(HOUR)
    assert (await driver.read()).energy_kwh == 0  # an open relay draws nothing
    await driver.set_relay(open=False)
    bench.clock.advance(HOUR)
    sample = await driver.read()
    assert (sample.relay, sample.energy_kwh) == ("closed", Decimal(1))


async def test_relay_that_refuses_to_switch(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "prepaid-v1", relay_confirm_timeout_s=0.2)
    unit(bench, "prepaid-v1").faults.add(RelayRefuses(), start=bench.clock.now())
    with pytest.raises(RelayNotConfirmedError) as caught:
        await driver.set_relay(open=True)
    assert (caught.value.wanted, caught.value.read_back) == ("open", "closed")


async def test_balance_write_is_read_back(bench: Bench, link: ModbusLink) -> None:
    driver = driver_for(bench, link, "prepaid-v1")
    await driver.write_balance(Decimal("-12.34"))
    assert (await driver.read()).balance == Decimal("-12.34")
    with pytest.raises(EncodeError):
        await driver.write_balance(Decimal("0.001"))
    with pytest.raises(UnsupportedOperationError):
        await driver_for(bench, link, "eastron-sdm120").write_balance(Decimal(1))
    with pytest.raises(UnsupportedOperationError):
        await driver_for(bench, link, "eastron-sdm120").set_relay(open=True)
