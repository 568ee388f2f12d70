"""At-least-once delivery: persistent session, QoS 1, ack only after the sink committed."""

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.mqtt import MqttGateway
from drivers.mqtt.payloads import dump_object
from tests.mqtt.broker import Mosquitto
from tests.mqtt.conftest import gateway_config, unique
from tests.mqtt.fakes import FakeSink, Publisher, wait_until
from tests.mqtt.sqlite_sink import seqs

pytestmark = pytest.mark.mqtt

GatewayFactory = Callable[..., MqttGateway]
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def reading(seq: int, meter_id: str = "M1") -> tuple[str, bytes]:
    ts = BASE + timedelta(seconds=seq)
    payload = dump_object({"ts": ts.isoformat(), "energy_kwh": f"{seq}.5", "seq": seq})
    return f"meters/{meter_id}/reading", payload


def seqs_of(sink: FakeSink) -> set[int]:
    return {r.seq for r in sink.readings if r.seq is not None}


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_readings_published_while_gateway_is_down_arrive_after_restart(
    broker: Mosquitto, publisher: Publisher, protocol: str
) -> None:
    config = gateway_config(broker.port, protocol=protocol)
    first = MqttGateway(config, FakeSink())
    first.start()  # establishes the persistent session and its subscriptions
    first.stop()
    for seq in range(1, 21):
        publisher.publish(*reading(seq))
    sink = FakeSink()
    second = MqttGateway(config, sink)  # same client id
    second.start()
    try:
        wait_until(lambda: seqs_of(sink) == set(range(1, 21)))
    finally:
        second.stop()


def test_failed_sink_call_is_not_acked_and_is_redelivered(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, publisher: Publisher
) -> None:
    gw = gateway_factory(fake_sink)
    fake_sink.fail_next(2)
    for seq in range(1, 11):
        publisher.publish(*reading(seq))
    wait_until(lambda: seqs_of(fake_sink) == set(range(1, 11)))
    counters = gw.counters
    assert counters.sink_failures == 2
    assert counters.readings_accepted >= 10


def test_unacked_messages_survive_a_gateway_stop_while_the_sink_is_down(
    broker: Mosquitto, publisher: Publisher
) -> None:
    config = gateway_config(broker.port)
    broken = FakeSink()
    broken.fail_next(10_000)
    first = MqttGateway(config, broken)
    first.start()
    for seq in range(1, 6):
        publisher.publish(*reading(seq))
    wait_until(lambda: first.counters.sink_failures >= 1)
    first.stop()
    assert broken.readings == []
    healthy = FakeSink()
    second = MqttGateway(config, healthy)
    second.start()
    try:
        wait_until(lambda: seqs_of(healthy) == set(range(1, 6)))
    finally:
        second.stop()


def test_session_and_queued_readings_survive_a_broker_restart(broker: Mosquitto) -> None:
    config = gateway_config(broker.port)
    sink = FakeSink()
    gw = MqttGateway(config, sink)
    gw.start()
    gw.stop()
    publisher = Publisher(broker.port, unique("pub"))
    publisher.connection.start()
    for seq in range(1, 11):
        publisher.publish(*reading(seq))
    publisher.connection.stop()
    broker.restart()  # mosquitto saves sessions and queued messages on SIGTERM
    gw = MqttGateway(config, sink)
    gw.start()
    try:
        wait_until(lambda: seqs_of(sink) == set(range(1, 11)))
        # And a running gateway reconnects and resubscribes by itself.
        broker.restart()
        assert gw.wait_connected(15)
        publisher = Publisher(broker.port, unique("pub"))
        publisher.connection.start()
        publisher.publish(*reading(11))
        publisher.connection.stop()
        wait_until(lambda: 11 in seqs_of(sink))
    finally:
        gw.stop()


def _start_gateway_process(port: int, client_id: str, db: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mqtt.gateway_process", str(port), client_id, str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.mark.slow
def test_no_reading_lost_when_the_gateway_process_is_killed(
    broker: Mosquitto, tmp_db: Path
) -> None:
    client_id = unique("gw-proc")
    total = 3000
    process = _start_gateway_process(broker.port, client_id, tmp_db)
    publisher = Publisher(broker.port, unique("pub"))
    publisher.connection.start()

    def publish_all() -> None:
        for seq in range(1, total + 1):
            publisher.publish(*reading(seq, meter_id=f"K{seq % 7}"))  # each PUBACK-confirmed

    sender = threading.Thread(target=publish_all)
    sender.start()
    try:
        wait_until(lambda: tmp_db.exists() and len(seqs(tmp_db)) >= 300, timeout_s=20)
        process.kill()  # SIGKILL mid-stream: no DISCONNECT, no cleanup, batches in flight
        process.wait()
        stored_at_kill = len(seqs(tmp_db))
        assert stored_at_kill < total, "the kill came too late to prove anything"
        sender.join(timeout=30)  # the rest is published while the gateway is dead
        process = _start_gateway_process(broker.port, client_id, tmp_db)
        wait_until(lambda: seqs(tmp_db) == set(range(1, total + 1)), timeout_s=30)
    finally:
        process.kill()
        process.wait()
        sender.join(timeout=30)
        publisher.connection.stop()
