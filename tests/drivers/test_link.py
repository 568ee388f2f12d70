"""Links over real sockets and ptys: reconnect after a drop, RTU on serial, RTU over TCP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from drivers.errors import MeterUnreachableError
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import LinkTiming, ModbusLink
from drivers.models import PREPAID_V1
from simulators.faults import CrcErrors
from simulators.meter import ManualClock
from simulators.modbus_server import MeterBusContext, serve_rtu, serve_tcp
from tests.drivers.conftest import PtyPair, make_unit, wait_until

pytestmark = pytest.mark.anyio


async def test_link_drop_and_reconnect(free_port: int) -> None:
    clock = ManualClock()
    context = MeterBusContext({1: make_unit(PREPAID_V1, clock)})
    server = await serve_tcp(context, port=free_port)
    link = ModbusLink.tcp("127.0.0.1", free_port, LinkTiming(reconnect_backoff_s=0.05))
    driver = ModbusMeterDriver(meter_id="m1", link=link, model=PREPAID_V1, timeout_s=0.3, retries=0)
    try:
        clock.advance(timedelta(hours=1))
        assert (await driver.read()).energy_kwh == 1
        await server.stop()
        await wait_until(lambda: not link.connected, what="the client to see the drop")
        with pytest.raises(MeterUnreachableError, match="connect"):
            await driver.read()

        server = await serve_tcp(context, port=free_port)
        clock.advance(timedelta(hours=1))

        async def reads_again() -> bool:
            try:
                return (await driver.read()).energy_kwh == 2
            except MeterUnreachableError:
                return False

        await wait_until(reads_again, what="a read after the server came back")
        assert link.reconnects == 2
    finally:
        link.close()
        await server.stop()


async def test_rtu_over_serial_pty(pty_pair: PtyPair) -> None:
    clock = ManualClock()
    units = {unit_id: make_unit(PREPAID_V1, clock, serial_number=unit_id) for unit_id in (1, 2)}
    context = MeterBusContext(units)
    server = await serve_rtu(context, port=pty_pair.server_end, serial=PREPAID_V1.serial)
    link = ModbusLink.serial(pty_pair.client_end, PREPAID_V1.serial)
    assert link.description.startswith(f"modbus-rtu://{pty_pair.client_end}?9600-8N1")
    drivers = [
        ModbusMeterDriver(
            meter_id=f"m{u}", link=link, model=PREPAID_V1, unit_id=u, timeout_s=0.5, retries=0
        )
        for u in (1, 2)
    ]
    try:
        clock.advance(timedelta(minutes=90))
        for unit_id, driver in zip((1, 2), drivers, strict=True):
            sample = await driver.read()
            assert sample.energy_kwh == Decimal("1.5")
            assert sample.extras["serial_number"] == unit_id
        await drivers[1].set_relay(open=True)
        assert not units[2].meter.relay_closed
        assert units[1].meter.relay_closed

        # absent unit: silence, not an error reply
        absent = ModbusMeterDriver(
            meter_id="m9", link=link, model=PREPAID_V1, unit_id=9, timeout_s=0.2, retries=0
        )
        with pytest.raises(MeterUnreachableError, match="no answer"):
            await absent.read()
        # CRC errors: the frame is dropped, so no answer either
        units[1].faults.add(CrcErrors(), start=clock.now())
        with pytest.raises(MeterUnreachableError, match="no answer"):
            await drivers[0].read()
        assert (await drivers[1].read()).relay == "open"  # the bus is still fine
    finally:
        link.close()
        await server.stop()


async def test_rtu_framed_over_tcp() -> None:
    clock = ManualClock()
    context = MeterBusContext({5: make_unit(PREPAID_V1, clock)})
    server = await serve_tcp(context, rtu_framing=True)
    assert server.port is not None
    link = ModbusLink.rtu_over_tcp("127.0.0.1", server.port)
    driver = ModbusMeterDriver(meter_id="m5", link=link, model=PREPAID_V1, unit_id=5)
    try:
        clock.advance(timedelta(hours=3))
        sample = await driver.read()
        assert sample.energy_kwh == 3
        assert sample.source == f"modbus-rtu-tcp://127.0.0.1:{server.port}/unit5"
    finally:
        link.close()
        await server.stop()
