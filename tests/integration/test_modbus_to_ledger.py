"""Modbus TCP simulator -> ModbusMeterDriver -> Poller -> PollerSink -> ledger."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from drivers.base import MeterSample
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.models import PREPAID_V1
from drivers.models.abb import B2X
from drivers.models.eastron import SDM120
from drivers.registers import MeterModel
from gateway.sinks import LedgerSink, PollerSink
from gateway.storage.db import make_engine
from simulators.meter import ManualClock
from simulators.modbus_server import MeterBusContext, serve_tcp
from tests.drivers.conftest import make_unit
from tests.integration.conftest import OPENING, flat_charge
from tests.ledger.world import T0, World

pytestmark = pytest.mark.anyio

QUARTER = timedelta(minutes=15)
CYCLES = 4
# meter id: (model, unit id, power W, register resolution in kWh)
LIVE: dict[str, tuple[MeterModel, int, str, Decimal]] = {
    "P1": (PREPAID_V1, 1, "1000", Decimal("0.01")),  # u32 x0.01 kWh, four band registers
    "P2": (SDM120, 2, "2333", Decimal("0.001")),  # float32 kWh
    "P3": (B2X, 3, "1500", Decimal("0.01")),  # u64 x0.01 kWh
}
DEAD_UNIT = 9  # nobody answers: silence, as on a bus


async def test_polled_meters_are_charged_their_true_energy_and_a_dead_one_stops_nobody(
    world: World,
) -> None:
    clock = ManualClock(at=T0)
    context = MeterBusContext(
        {
            unit: make_unit(model, clock, power_w=power, balance=Decimal("50.00"))
            for model, unit, power, _ in LIVE.values()
        }
    )
    server = await serve_tcp(context)
    assert server.port is not None
    link = ModbusLink.tcp("127.0.0.1", server.port)
    meters = {meter_id: (model, unit) for meter_id, (model, unit, *_) in LIVE.items()}
    meters["P9"] = (PREPAID_V1, DEAD_UNIT)
    for meter_id in meters:
        world.account(f"A-{meter_id}", opening=str(OPENING))
        world.meter(meter_id, f"A-{meter_id}", installed_at=T0, install_reading_kwh=Decimal(0))
    drivers = [
        ModbusMeterDriver(
            meter_id=meter_id,
            link=link,
            model=model,
            unit_id=unit,
            timeout_s=0.3,
            retries=0,
            clock=clock.now,
        )
        for meter_id, (model, unit) in meters.items()
    ]
    sink = PollerSink(LedgerSink(world.engine), max_samples=len(LIVE), max_wait_s=2.0)
    poller = Poller(drivers, sink=sink, interval_s=0.05, offline_after=2)
    try:
        for _ in range(CYCLES):
            clock.advance(QUARTER)
            # a poll returns once its sample is committed, so the cycle ends with the commit
            await asyncio.wait_for(poller.run(cycles=1), timeout=10)
    finally:
        await sink.aclose()
        link.close()
        await server.stop()

    assert sink.batches_committed == CYCLES  # each cycle's three samples in one commit
    dead = poller.status("P9")
    assert not dead.online
    assert dead.polls_failed == 2  # then left alone until the re-probe interval
    assert world.readings("P9") == []
    for meter_id, (_, _, power, resolution) in LIVE.items():
        rows = world.readings(meter_id)
        assert [r.ts for r in rows] == [T0 + QUARTER * k for k in range(1, CYCLES + 1)]
        assert {r.outcome for r in rows} == {"accepted"}
        for k, row in enumerate(rows, start=1):
            true_kwh = Decimal(power) / 1000 * Decimal("0.25") * k
            assert abs(row.raw_kwh - true_kwh) <= resolution, (meter_id, k, row.raw_kwh)
        last_kwh = rows[-1].raw_kwh
        entries = world.entries(f"A-{meter_id}")
        assert len(entries) == CYCLES
        assert sum(e.energy_kwh for e in entries) == last_kwh
        assert world.balance(f"A-{meter_id}") == OPENING - flat_charge(last_kwh)
    p1 = world.readings("P1")[-1]
    assert (p1.balance, p1.relay) == (Decimal("50.00"), "closed")
    assert p1.source.startswith("modbus:")
    assert sum(Decimal(kwh) for kwh in p1.bands_kwh.values()) == p1.raw_kwh == Decimal("1.00")
    assert world.verify().violations == ()


def _sample(meter_id: str, minutes: int, kwh: str) -> MeterSample:
    return MeterSample(meter_id, T0 + timedelta(minutes=minutes), Decimal(kwh), source="test")


async def test_a_lone_sample_is_committed_after_the_wait_and_a_failed_commit_raises(
    world: World, tmp_path: Path
) -> None:
    world.account("A-S1", opening=str(OPENING))
    world.meter("S1", "A-S1", installed_at=T0, install_reading_kwh=Decimal(0))
    sink = PollerSink(LedgerSink(world.engine), max_samples=100, max_wait_s=0.05)
    try:
        await asyncio.wait_for(sink(_sample("S1", 15, "0.4")), timeout=5)
        assert sink.batches_committed == 1
        assert world.balance("A-S1") == OPENING - flat_charge(Decimal("0.4"))
    finally:
        await sink.aclose()
    broken_engine = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")
    broken = PollerSink(LedgerSink(broken_engine), max_samples=2, max_wait_s=5)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                broken(_sample("S1", 30, "0.8")),
                broken(_sample("S1", 45, "1.2")),
                return_exceptions=True,
            ),
            timeout=5,
        )
    finally:
        await broken.aclose()
        broken_engine.dispose()
    assert [type(r) for r in results] == [OperationalError, OperationalError]
    assert broken.batches_committed == 0
