"""The poller: keeps the rate with a dead meter on the bus, goes offline and back, never stops."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from drivers.base import MeterSample
from drivers.errors import MeterUnreachableError
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.models import PREPAID_V1
from simulators.faults import Offline
from simulators.meter import ManualClock
from simulators.modbus_server import MeterBusContext, serve_rtu, serve_tcp
from tests.drivers.conftest import PtyPair, make_unit, wait_until

pytestmark = pytest.mark.anyio


class Collector:
    def __init__(self) -> None:
        self.samples: dict[str, list[MeterSample]] = defaultdict(list)

    async def __call__(self, sample: MeterSample) -> None:
        self.samples[sample.meter_id].append(sample)


async def test_dead_unit_on_an_rtu_bus_does_not_slow_the_live_ones(pty_pair: PtyPair) -> None:
    clock = ManualClock()
    live_ids = (1, 2, 3)
    context = MeterBusContext({u: make_unit(PREPAID_V1, clock) for u in live_ids})
    server = await serve_rtu(context, port=pty_pair.server_end)
    link = ModbusLink.serial(pty_pair.client_end)

    def driver(unit_id: int) -> ModbusMeterDriver:
        return ModbusMeterDriver(
            meter_id=f"u{unit_id}",
            link=link,
            model=PREPAID_V1,
            unit_id=unit_id,
            timeout_s=0.15,
            retries=1,
            retry_backoff_s=0.01,
        )

    collector = Collector()
    cycles, interval_s = 8, 0.25
    poller = Poller(
        [driver(u) for u in (*live_ids, 7)],  # unit 7 is not on the bus
        sink=collector,
        interval_s=interval_s,
        offline_after=2,
        reprobe_interval_s=60,
    )
    try:
        await asyncio.wait_for(poller.run(cycles=cycles), timeout=10)
    finally:
        link.close()
        await server.stop()
    for unit_id in live_ids:
        samples = collector.samples[f"u{unit_id}"]
        assert len(samples) == cycles, f"unit {unit_id} missed polls"
        assert poller.status(f"u{unit_id}").online
        gaps = [(b.read_at - a.read_at).total_seconds() for a, b in itertools.pairwise(samples)]
        assert max(gaps) < interval_s + 0.15 * 2 + 0.1
    dead = poller.status("u7")
    assert not dead.online
    assert dead.polls_failed == 2  # offline after 2, then only re-probed every 60 s
    assert "MeterUnreachableError" in (dead.last_error or "")
    assert "u7" not in collector.samples
    # once the dead unit is offline (after its second timed-out cycle) cycles are short
    late = [report for report in poller.cycles if report.index >= 3]
    assert len(late) == cycles - 3
    assert all(report.duration_s < 0.15 for report in late), poller.cycles


async def test_offline_meter_is_reprobed_and_comes_back() -> None:
    clock = ManualClock()
    unit = make_unit(PREPAID_V1, clock)
    context = MeterBusContext({1: unit})
    server = await serve_tcp(context)
    assert server.port is not None
    link = ModbusLink.tcp("127.0.0.1", server.port)
    meter = ModbusMeterDriver(meter_id="m", link=link, model=PREPAID_V1, timeout_s=0.1, retries=0)
    collector = Collector()
    poller = Poller(
        [meter], sink=collector, interval_s=0.05, offline_after=2, reprobe_interval_s=0.3
    )
    unit.faults.add(Offline(), start=clock.now(), end=clock.now() + timedelta(hours=1))
    task = asyncio.create_task(poller.run())
    try:
        await wait_until(lambda: not poller.status("m").online, what="meter offline")
        assert collector.samples["m"] == []  # no stale or made-up value while offline
        failed = poller.status("m").polls_failed
        clock.advance(timedelta(hours=1))  # the fault window ends
        await wait_until(lambda: poller.status("m").online, what="meter back online")
        status = poller.status("m")
        assert status.polls_failed == failed  # no polls between re-probes
        assert status.consecutive_failures == 0
        assert status.last_success_at is not None
        assert collector.samples["m"][0].energy_kwh == 1
    finally:
        task.cancel()
        link.close()
        await server.stop()


class FlakyDriver:
    """A fake driver: fails, then has a bug, then works. Tests the loop, not Modbus."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def meter_id(self) -> str:
        return "flaky"

    async def read(self) -> MeterSample:
        self.calls += 1
        if self.calls == 1:
            raise MeterUnreachableError(meter_id="flaky", unit_id=1, port="fake", reason="x")
        if self.calls == 2:
            raise RuntimeError("a bug")
        return MeterSample(
            meter_id="flaky",
            read_at=datetime.now(UTC),
            energy_kwh=Decimal(self.calls),
            source="fake",
        )

    async def set_relay(self, *, open: bool) -> None:
        raise NotImplementedError

    async def write_balance(self, amount: Decimal) -> None:
        raise NotImplementedError


async def test_failures_and_a_failing_sink_never_stop_the_loop() -> None:
    driver = FlakyDriver()
    seen: list[Decimal] = []

    async def sink(sample: MeterSample) -> None:
        seen.append(sample.energy_kwh)
        if len(seen) == 1:
            raise OSError("ledger down")

    poller = Poller([driver], sink=sink, interval_s=0.01, offline_after=5)
    await asyncio.wait_for(poller.run(cycles=6), timeout=5)
    assert driver.calls == 6
    assert seen == [Decimal(3), Decimal(4), Decimal(5), Decimal(6)]
    status = poller.status("flaky")
    assert (status.polls_ok, status.polls_failed, status.online) == (4, 2, True)
