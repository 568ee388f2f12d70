"""No reading lost or charged twice when the gateway process is SIGKILLed mid-stream.

Simulated meters and a concentrator publish (QoS 1, each PUBACK-confirmed) while the
gateway, in its own OS process, commits to the real ledger and acks only after the commit.
It is killed mid-stream and restarted with the same client id: the broker redelivers what
was not acked, the ledger turns what was already committed into no-ops.
"""

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from drivers.mqtt import BrokerAddress
from gateway.storage.schema import readings
from simulators.mqtt_concentrator import MqttConcentrator, make_meters
from simulators.mqtt_meter import MeterState, MqttMeter
from tests.integration.conftest import OPENING, flat_charge, reading_count
from tests.ledger.world import T0, World
from tests.mqtt.broker import Mosquitto
from tests.mqtt.conftest import unique
from tests.mqtt.fakes import wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

TICKS = 120  # x (4 meters + 16 behind the concentrator) = 2,400 readings, 720 messages
STEP = timedelta(minutes=1)


class RecordingClock:
    """A simulator's clock, one step a call, remembering every instant it handed out."""

    def __init__(self) -> None:
        self.times: list[datetime] = []

    def __call__(self) -> datetime:
        self.times.append(T0 + STEP * (len(self.times) + 1))
        return self.times[-1]


def _start(port: int, client_id: str, url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.gateway_process",
            str(port),
            client_id,
            url,
            "5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_no_reading_lost_or_charged_twice_across_a_gateway_kill(
    broker: Mosquitto, world: World
) -> None:
    address = BrokerAddress(port=broker.port)
    clocks: dict[str, RecordingClock] = {}
    meters: list[MqttMeter] = []
    for index in range(1, 5):
        clocks[f"K{index}"] = RecordingClock()
        state = MeterState(f"K{index}", power_w=Decimal(900 + 137 * index), started_at=T0)
        meters.append(MqttMeter(state, broker=address, clock=clocks[f"K{index}"]))
    clocks["DCU"] = RecordingClock()
    dcu_meters = make_meters(16, started_at=T0, prefix="D", power_w=Decimal(733))
    dcu = MqttConcentrator("DCU-K", dcu_meters, broker=address, clock=clocks["DCU"], batch_size=8)
    sims: list[MqttMeter | MqttConcentrator] = [*meters, dcu]
    states = {m.state.meter_id: m.state for m in meters} | {s.meter_id: s for s in dcu_meters}
    for meter_id in states:
        world.account(f"A-{meter_id}", opening=str(OPENING))
        world.meter(meter_id, f"A-{meter_id}", installed_at=T0, install_reading_kwh=Decimal(0))
    total = TICKS * len(states)
    url = world.engine.url.render_as_string(hide_password=False)
    client_id = unique("gw-ledger")

    def publish_all(publishers: list[Callable[[], object]]) -> None:
        for _ in range(TICKS):
            for publish in publishers:
                publish()

    process = _start(broker.port, client_id, url)
    for simulator in sims:
        simulator.connect()
    sender = threading.Thread(
        target=publish_all, args=([m.publish_reading for m in meters] + [dcu.publish_tick],)
    )
    sender.start()
    try:
        wait_until(lambda: reading_count(world) >= total // 8, timeout_s=30)
        process.kill()  # SIGKILL mid-stream: no DISCONNECT, batches in flight
        process.wait()
        stored_at_kill = reading_count(world)
        assert stored_at_kill < total, "the kill came too late to prove anything"
        sender.join(timeout=60)  # the rest is published while the gateway is dead
        assert not sender.is_alive()
        process = _start(broker.port, client_id, url)
        wait_until(lambda: reading_count(world) == total, timeout_s=60)
    finally:
        process.kill()
        process.wait()
        sender.join(timeout=30)
        for simulator in sims:
            simulator.close()

    with world.engine.connect() as connection:
        rows = connection.execute(select(readings.c.meter_id, readings.c.ts, readings.c.outcome))
        stored = [(row.meter_id, row.ts, row.outcome) for row in rows]
    published = {(m, ts) for m, clock in clocks.items() if m != "DCU" for ts in clock.times}
    published |= {(s.meter_id, ts) for s in dcu_meters for ts in clocks["DCU"].times}
    keys = [(meter_id, ts) for meter_id, ts, _ in stored]
    assert len(keys) == len(set(keys)) == total  # stored exactly once
    assert set(keys) == published
    assert {outcome for *_, outcome in stored} <= {"accepted", "out_of_order"}
    for meter_id, state in states.items():
        last_ts = max(clocks["DCU" if meter_id.startswith("D") else meter_id].times)
        kwh = state.energy_kwh_at(last_ts)  # the meter's register at its last reading
        entries = world.entries(f"A-{meter_id}")
        assert sum(e.energy_kwh for e in entries) == kwh, meter_id
        assert world.balance(f"A-{meter_id}") == OPENING - flat_charge(kwh), meter_id
    assert world.verify().violations == ()
