"""The command dispatcher against the simulated MQTT meter (real Mosquitto) and the simulated
Modbus meter (real TCP), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.models import PREPAID_V1
from drivers.mqtt import BrokerAddress, MqttGateway
from gateway.runtime.command_transports import (
    CommandTransport,
    ModbusCommandTransport,
    MqttCommandTransport,
)
from gateway.runtime.commands import CommandDispatcher
from simulators.faults import RelayRefuses
from simulators.meter import ManualClock, VirtualMeter
from simulators.modbus_server import MeterBusContext, SimulatedUnit, serve_tcp
from simulators.mqtt_meter import MeterState, MqttMeter
from simulators.profiles import SINGLE_BAND, ConstantLoad
from tests.mqtt.broker import Mosquitto
from tests.mqtt.fakes import FakeSink, Probe, wait_until
from tests.runtime.conftest import FakeClock, add_command, add_meter, command_row, meter_relay

pytestmark = pytest.mark.anyio
_ids = itertools.count(1)


def dispatcher_for(
    engine: Engine, transports: dict[str, CommandTransport], max_refusals: int = 3
) -> CommandDispatcher:
    return CommandDispatcher(
        engine, transports=transports, max_refusals=max_refusals, rand=lambda: 0.0
    )


@dataclass
class MqttSetup:
    gateway: MqttGateway
    meter: MqttMeter
    probe: Probe  # every command the gateway publishes, in order

    def transport(self, ack_timeout_s: float = 5.0) -> MqttCommandTransport:
        return MqttCommandTransport(self.gateway, ack_timeout_s=ack_timeout_s)

    def relay(self) -> str:
        return self.meter.state.relay

    def sent_ids(self) -> list[str]:
        return [json.loads(p)["id"] for p in self.probe.payloads()]


@pytest.fixture
def mqtt(
    broker: Mosquitto, gateway_factory: Callable[..., MqttGateway], fake_sink: FakeSink
) -> Iterator[Callable[..., MqttSetup]]:
    started: list[MqttSetup] = []

    def make(meter_id: str, meter_clock: Callable[[], datetime] | None = None) -> MqttSetup:
        state = MeterState(meter_id=meter_id, power_w=Decimal(1000), started_at=datetime.now(UTC))
        meter = MqttMeter(
            state,
            broker=BrokerAddress(port=broker.port),
            command_clock=meter_clock or (lambda: datetime.now(UTC)),
        )
        meter.connect()
        probe = Probe(broker.port, "meters/+/command", f"cmd-probe-{next(_ids)}")
        probe.connection.start()
        setup = MqttSetup(gateway_factory(fake_sink), meter, probe)
        started.append(setup)
        return setup

    yield make
    for setup in started:
        setup.meter.close()
        setup.probe.connection.stop()


async def test_mqtt_relay_commands_are_confirmed_and_update_the_meter_row(
    engine: Engine, clock: FakeClock, mqtt: Callable[..., MqttSetup]
) -> None:
    sim = mqtt("MQ1")
    add_meter(engine, "MQ1", clock.now)
    dispatcher = dispatcher_for(engine, {"MQ1": sim.transport()})

    trip = add_command(engine, "MQ1", "relay_open", clock.now)
    assert await dispatcher.process_once(clock.now) == 1
    row = command_row(engine, trip)
    assert (row.status, row.attempts, row.confirmed_at) == ("confirmed", 1, clock.now)
    assert meter_relay(engine, "MQ1") == "open"
    assert sim.relay() == "open"

    close = add_command(engine, "MQ1", "relay_close", clock.advance(60))
    assert await dispatcher.process_once(clock.now) == 1
    assert command_row(engine, close).status == "confirmed"
    assert meter_relay(engine, "MQ1") == "closed"
    assert sim.relay() == "closed"
    assert await dispatcher.process_once(clock.advance(3600)) == 0
    assert sim.sent_ids() == [trip, close]
    assert dispatcher.counters["confirmed"] == 2


async def test_an_expired_command_is_marked_expired_and_never_sent(
    engine: Engine, clock: FakeClock, mqtt: Callable[..., MqttSetup]
) -> None:
    sim = mqtt("MQ2")
    add_meter(engine, "MQ2", clock.now)
    dispatcher = dispatcher_for(engine, {"MQ2": sim.transport()})
    stale = add_command(engine, "MQ2", "relay_open", clock.now - timedelta(seconds=20), ttl_s=10)
    assert await dispatcher.process_once(clock.now) == 1
    row = command_row(engine, stale)
    assert row.status == "expired"
    assert row.last_error.startswith("expired at ")
    assert row.attempts == 0
    # A later command goes out on the same connection; had the stale one been sent, the
    # probe would have seen it first.
    fresh = add_command(engine, "MQ2", "relay_close", clock.now)
    assert await dispatcher.process_once(clock.now) == 1
    wait_until(lambda: sim.sent_ids() == [fresh])
    assert meter_relay(engine, "MQ2") == "closed"


async def test_a_meter_that_never_acks_is_retried_with_backoff_then_expired(
    engine: Engine, clock: FakeClock, mqtt: Callable[..., MqttSetup]
) -> None:
    sim = mqtt("MQ3")  # the probe and gateway; nobody answers for MQ-SILENT
    add_meter(engine, "MQ-SILENT", clock.now)
    t0 = clock.now
    dispatcher = dispatcher_for(engine, {"MQ-SILENT": sim.transport(ack_timeout_s=0.2)})
    command = add_command(engine, "MQ-SILENT", "relay_open", t0, ttl_s=30)

    assert await dispatcher.process_once(t0) == 1
    row = command_row(engine, command)
    assert (row.status, row.attempts) == ("sent", 1)
    assert row.next_attempt_at == t0 + timedelta(seconds=2)
    assert "no acknowledgement" in row.last_error
    assert await dispatcher.process_once(t0 + timedelta(seconds=1)) == 0

    assert await dispatcher.process_once(clock.advance(2)) == 1
    row = command_row(engine, command)
    assert row.attempts == 2
    assert row.next_attempt_at == clock.now + timedelta(seconds=4)

    assert await dispatcher.process_once(t0 + timedelta(seconds=30)) == 1
    row = command_row(engine, command)
    assert (row.status, row.attempts, row.confirmed_at) == ("expired", 2, None)
    assert meter_relay(engine, "MQ-SILENT") == "closed"
    wait_until(lambda: sim.sent_ids() == [command, command])  # one id, sent twice


async def test_a_relay_open_superseded_by_a_later_close_is_never_sent(
    engine: Engine, clock: FakeClock, mqtt: Callable[..., MqttSetup]
) -> None:
    sim = mqtt("MQ4")
    add_meter(engine, "MQ4", clock.now)
    trip = add_command(engine, "MQ4", "relay_open", clock.now)
    restore = add_command(engine, "MQ4", "relay_close", clock.advance(1))
    dispatcher = dispatcher_for(engine, {"MQ4": sim.transport()})
    assert await dispatcher.process_once(clock.advance(1)) == 2
    assert command_row(engine, trip).status == "expired"
    assert command_row(engine, trip).last_error == f"superseded by {restore}"
    assert command_row(engine, restore).status == "confirmed"
    assert sim.sent_ids() == [restore]
    assert sim.relay() == "closed"
    assert dispatcher.counters["superseded"] == 1


async def test_a_meter_that_refuses_fails_the_command_after_max_refusals(
    engine: Engine, clock: FakeClock, mqtt: Callable[..., MqttSetup]
) -> None:
    sim = mqtt("MQ5", meter_clock=lambda: datetime.now(UTC) + timedelta(days=1))  # "expired"
    add_meter(engine, "MQ5", clock.now)
    dispatcher = dispatcher_for(engine, {"MQ5": sim.transport()}, max_refusals=2)
    command = add_command(engine, "MQ5", "relay_open", clock.now)
    assert await dispatcher.process_once(clock.now) == 1
    row = command_row(engine, command)
    assert (row.status, row.last_error) == ("sent", "meter refused: expired")
    assert await dispatcher.process_once(row.next_attempt_at) == 1
    assert command_row(engine, command).status == "failed"
    assert await dispatcher.process_once(clock.advance(3600)) == 0
    assert meter_relay(engine, "MQ5") == "closed"


@asynccontextmanager
async def modbus_meter(meter_id: str) -> AsyncIterator[tuple[SimulatedUnit, ModbusMeterDriver]]:
    meter = VirtualMeter(
        clock=ManualClock(), profile=ConstantLoad(Decimal(1000)), bands=SINGLE_BAND
    )
    unit = SimulatedUnit(meter, PREPAID_V1)
    server = await serve_tcp(MeterBusContext({1: unit}))
    assert server.port is not None
    link = ModbusLink.tcp("127.0.0.1", server.port)
    driver = ModbusMeterDriver(
        meter_id=meter_id, link=link, model=PREPAID_V1, relay_confirm_timeout_s=0.3
    )
    try:
        yield unit, driver
    finally:
        link.close()
        await server.stop()


async def test_modbus_relay_round_trip_and_balance_are_confirmed_by_read_back(
    engine: Engine, clock: FakeClock
) -> None:
    add_meter(engine, "MB1", clock.now)
    async with modbus_meter("MB1") as (unit, driver):
        dispatcher = dispatcher_for(engine, {"MB1": ModbusCommandTransport(driver)})
        trip = add_command(engine, "MB1", "relay_open", clock.now)
        assert await dispatcher.process_once(clock.now) == 1
        assert command_row(engine, trip).status == "confirmed"
        assert not unit.meter.relay_closed
        assert meter_relay(engine, "MB1") == "open"

        close = add_command(engine, "MB1", "relay_close", clock.advance(10))
        top_up = add_command(
            engine, "MB1", "set_balance", clock.advance(1), params={"amount": "12.34"}
        )
        assert await dispatcher.process_once(clock.now) == 2
        assert command_row(engine, close).status == "confirmed"
        assert command_row(engine, top_up).status == "confirmed"
        assert unit.meter.relay_closed
        assert unit.meter.balance == Decimal("12.34")
        assert meter_relay(engine, "MB1") == "closed"


async def test_a_modbus_relay_that_refuses_to_switch_fails_the_command(
    engine: Engine, clock: FakeClock
) -> None:
    add_meter(engine, "MB2", clock.now)
    async with modbus_meter("MB2") as (unit, driver):
        unit.faults.add(RelayRefuses(), start=unit.meter.clock.now())
        dispatcher = dispatcher_for(engine, {"MB2": ModbusCommandTransport(driver)}, max_refusals=2)
        trip = add_command(engine, "MB2", "relay_open", clock.now)
        assert await dispatcher.process_once(clock.now) == 1
        row = command_row(engine, trip)
        assert (row.status, row.attempts) == ("sent", 1)
        assert "reads back closed" in row.last_error
        assert await dispatcher.process_once(row.next_attempt_at) == 1
        row = command_row(engine, trip)
        assert (row.status, row.attempts) == ("failed", 2)
        assert unit.meter.relay_closed
        assert meter_relay(engine, "MB2") == "closed"
        assert dispatcher.counters["failed"] == 1


async def test_a_meter_without_transport_waits_until_expiry(
    engine: Engine, clock: FakeClock
) -> None:
    add_meter(engine, "NOWHERE", clock.now)
    dispatcher = dispatcher_for(engine, {})
    command = add_command(engine, "NOWHERE", "relay_open", clock.now, ttl_s=5)
    assert await dispatcher.process_once(clock.now) == 1
    row = command_row(engine, command)
    assert row.last_error == "no transport configured for meter NOWHERE"
    assert row.next_attempt_at == clock.now + timedelta(seconds=2)
    assert await dispatcher.process_once(clock.advance(2)) == 1
    assert command_row(engine, command).next_attempt_at == clock.now + timedelta(seconds=3)
    assert await dispatcher.process_once(clock.advance(3)) == 1
    assert command_row(engine, command).status == "expired"
