"""Fixtures for the MQTT tests: one real Mosquitto per session, gateways, probes, a fake sink."""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drivers.mqtt import BatchPolicy, BrokerAddress, GatewayConfig, MqttGateway, Sink
from tests.mqtt.broker import MOSQUITTO, Mosquitto
from tests.mqtt.fakes import FakeSink, Probe, Publisher

_ids = itertools.count(1)


def unique(name: str) -> str:
    return f"{name}-{next(_ids)}"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if not MOSQUITTO.exists():
        pytest.fail(f"Mosquitto binary not found at {MOSQUITTO}")
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    pub = Publisher(broker.port, unique("test-pub"))
    pub.connection.start()
    yield pub
    pub.connection.stop()


@pytest.fixture
def probe_factory(broker: Mosquitto) -> Iterator[Callable[[str], Probe]]:
    probes: list[Probe] = []

    def make(topic_filter: str) -> Probe:
        probe = Probe(broker.port, topic_filter, unique("test-probe"))
        probe.connection.start()
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        probe.connection.stop()


def gateway_config(port: int, **overrides: Any) -> GatewayConfig:
    base = GatewayConfig(
        broker=BrokerAddress(port=port),
        client_id=unique("gw"),
        batch=BatchPolicy(max_messages=50, max_wait_ms=20, sink_retry_delay_s=0.2),
    )
    return replace(base, **overrides)


@pytest.fixture
def gateway_factory(broker: Mosquitto) -> Iterator[Callable[..., MqttGateway]]:
    gateways: list[MqttGateway] = []

    def make(
        sink: Sink,
        config: GatewayConfig | None = None,
        meter_known: Callable[[str], bool] | None = None,
    ) -> MqttGateway:
        gw = MqttGateway(config or gateway_config(broker.port), sink, meter_known=meter_known)
        gw.start()
        gateways.append(gw)
        return gw

    yield make
    for gw in gateways:
        gw.stop()


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    return tmp_path / "readings.sqlite"
