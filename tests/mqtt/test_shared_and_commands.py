"""Shared subscriptions split the load; commands count only when the meter acks them."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drivers.mqtt import (
    BrokerAddress,
    CommandRejectedError,
    CommandTimeoutError,
    MqttGateway,
)
from simulators.mqtt_meter import MeterState, MqttMeter
from tests.mqtt.broker import Mosquitto
from tests.mqtt.conftest import gateway_config
from tests.mqtt.fakes import FakeSink, Publisher, wait_until
from tests.mqtt.test_delivery import reading, seqs_of

pytestmark = pytest.mark.mqtt

GatewayFactory = Callable[..., MqttGateway]


def test_shared_subscription_splits_messages_between_two_gateways(
    broker: Mosquitto, gateway_factory: GatewayFactory, publisher: Publisher
) -> None:
    sinks = [FakeSink(), FakeSink()]
    for sink in sinks:
        gateway_factory(sink, gateway_config(broker.port, protocol="5", share_group="ingest"))
    for seq in range(1, 101):
        publisher.publish(*reading(seq, meter_id=f"S{seq % 10}"))
    wait_until(lambda: seqs_of(sinks[0]) | seqs_of(sinks[1]) == set(range(1, 101)))
    first, second = seqs_of(sinks[0]), seqs_of(sinks[1])
    assert first, "the first gateway got nothing"
    assert second, "the second gateway got nothing"
    assert not first & second, "a message went to both members of the share group"


@pytest.fixture
def sim_meter(broker: Mosquitto) -> Iterator[MqttMeter]:
    state = MeterState(
        meter_id="CMD1",
        power_w=Decimal(1000),
        started_at=datetime.now(UTC),
        balance=Decimal("10.00"),
    )
    meter = MqttMeter(state, broker=BrokerAddress(port=broker.port))
    meter.connect()
    yield meter
    meter.close()


def test_relay_and_balance_commands_are_confirmed_by_the_simulated_meter(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, sim_meter: MqttMeter
) -> None:
    gw = gateway_factory(fake_sink)
    ack = gw.send_command("CMD1", "relay_open").confirmed(timeout_s=5)
    assert ack.ok
    assert ack.relay == "open"
    assert sim_meter.state.relay == "open"
    ack = gw.send_command("CMD1", "set_balance", amount=Decimal("25.50")).confirmed(timeout_s=5)
    assert ack.balance == Decimal("25.50")
    ack = gw.send_command("CMD1", "relay_close").confirmed(timeout_s=5)
    assert ack.relay == "closed"


def test_expired_command_is_refused_by_the_meter(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, sim_meter: MqttMeter
) -> None:
    gw = gateway_factory(fake_sink)
    pending = gw.send_command("CMD1", "relay_open", ttl_s=-1)
    with pytest.raises(CommandRejectedError, match="expired"):
        pending.confirmed(timeout_s=5)
    assert sim_meter.state.relay == "closed"


def test_command_without_ack_times_out(
    gateway_factory: GatewayFactory, fake_sink: FakeSink
) -> None:
    gw = gateway_factory(fake_sink)
    with pytest.raises(CommandTimeoutError):
        gw.send_command("NOBODY", "relay_open").confirmed(timeout_s=0.3)


def test_simulated_meter_readings_reach_the_sink(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, sim_meter: MqttMeter
) -> None:
    gateway_factory(fake_sink)
    sim_meter.publish_reading()
    sim_meter.publish_reading()
    wait_until(lambda: len(fake_sink.readings) == 2)
    first, second = fake_sink.readings
    assert (first.meter_id, first.seq, second.seq) == ("CMD1", 1, 2)
    assert second.energy_kwh >= first.energy_kwh
    assert second.balance == Decimal("10.00")
