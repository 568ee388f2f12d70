"""Readings through a real Mosquitto into the fake sink; malformed input into dead letters."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from drivers.mqtt import MqttGateway, TasmotaDevice, Topics
from tests.mqtt.broker import Mosquitto
from tests.mqtt.conftest import gateway_config
from tests.mqtt.fakes import FakeSink, Probe, Publisher, wait_until

pytestmark = pytest.mark.mqtt

GatewayFactory = Callable[..., MqttGateway]


def test_meter_reading_round_trips_with_exact_decimals(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, publisher: Publisher
) -> None:
    gateway_factory(fake_sink)
    publisher.publish(
        "meters/M1/reading",
        b'{"ts": "2024-05-01T20:00:00+08:00", "energy_kwh": 0.1, '
        b'"tou_kwh": {"peak": 0.07, "valley": "0.03"}, "balance": "-3.20", '
        b'"relay": "closed", "seq": 42}',
    )
    wait_until(lambda: len(fake_sink.readings) == 1)
    (reading,) = fake_sink.readings
    assert reading.meter_id == "M1"
    assert reading.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert reading.energy_kwh == Decimal("0.1")
    assert str(reading.energy_kwh) == "0.1"  # exact text, never via float
    assert reading.bands_kwh == (("peak", Decimal("0.07")), ("valley", Decimal("0.03")))
    assert reading.balance == Decimal("-3.20")
    assert reading.relay == "closed"
    assert reading.seq == 42
    assert reading.source_topic == "meters/M1/reading"
    assert reading.received_at.tzinfo is not None


def test_unix_seconds_timestamp(
    gateway_factory: GatewayFactory, fake_sink: FakeSink, publisher: Publisher
) -> None:
    gateway_factory(fake_sink)
    publisher.publish("meters/M2/reading", b'{"ts": 1714564800.25, "energy_kwh": "12.345"}')
    wait_until(lambda: len(fake_sink.readings) == 1)
    assert fake_sink.readings[0].ts == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert fake_sink.readings[0].energy_kwh == Decimal("12.345")


def test_concentrator_batch_commits_valid_and_dead_letters_each_invalid_entry(
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
    probe_factory: Callable[[str], Probe],
) -> None:
    dead = probe_factory("gateway/deadletter")
    gw = gateway_factory(fake_sink)
    entries = [
        {"meter_id": "A1", "ts": "2024-05-01T12:00:00Z", "energy_kwh": "1.5", "seq": 1},
        {"meter_id": "A2", "ts": "2024-05-01T12:00:00Z", "energy_kwh": "-2"},
        {"meter_id": "A3", "ts": "2024-05-01T12:00:00Z", "energy_kwh": "2.25"},
        {"meter_id": "A4", "ts": "2024-05-01T12:00:00", "energy_kwh": "3"},
    ]
    publisher.publish("concentrators/C1/readings", json.dumps({"readings": entries}).encode())
    wait_until(lambda: len(fake_sink.readings) == 2 and len(dead.messages) == 2)
    assert [(r.meter_id, r.energy_kwh) for r in fake_sink.readings] == [
        ("A1", Decimal("1.5")),
        ("A3", Decimal("2.25")),
    ]
    letters = sorted((json.loads(p) for p in dead.payloads()), key=lambda d: d["index"])
    assert [(d["index"], d["reason"].split(":")[0]) for d in letters] == [
        (1, "readings[1].energy_kwh"),
        (3, "readings[3].ts"),
    ]
    assert letters[0]["topic"] == "concentrators/C1/readings"
    assert gw.counters.readings_accepted == 2
    assert gw.counters.dead_letters == 2


def test_tasmota_sensor_is_mapped_to_meter_in_device_timezone(
    broker: Mosquitto,
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
) -> None:
    devices = {"plug-kitchen": TasmotaDevice("M-KITCHEN", ZoneInfo("Asia/Shanghai"))}
    gateway_factory(fake_sink, gateway_config(broker.port, tasmota_devices=devices))
    publisher.publish(
        "tele/plug-kitchen/SENSOR",
        b'{"Time": "2024-05-01T20:00:00", "ENERGY": {"TotalStartTime": "2024-01-01T00:00:00",'
        b' "Total": 123.456, "Yesterday": 0.5, "Today": 0.25, "Power": 60}}',
    )
    wait_until(lambda: len(fake_sink.readings) == 1)
    (reading,) = fake_sink.readings
    assert reading.meter_id == "M-KITCHEN"
    assert reading.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert reading.energy_kwh == Decimal("123.456")


def test_prefix_applies_to_every_topic(
    broker: Mosquitto,
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
    probe_factory: Callable[[str], Probe],
) -> None:
    dead = probe_factory("site7/gateway/deadletter")
    gateway_factory(fake_sink, gateway_config(broker.port, topics=Topics("site7/")))
    publisher.publish("site7/meters/M1/reading", b'{"ts": 0, "energy_kwh": 1}')
    publisher.publish("site7/meters/M1/reading", b"oops")
    wait_until(lambda: len(fake_sink.readings) == 1 and len(dead.messages) == 1)


MALFORMED = [
    pytest.param(b"{not json", "$", id="bad-json"),
    pytest.param(b"[1, 2]", "$", id="not-an-object"),
    pytest.param(b'{"ts": "2024-05-01T12:00:00Z"}', "energy_kwh", id="missing-energy"),
    pytest.param(b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": "abc"}', "energy_kwh", id="text"),
    pytest.param(b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": -0.5}', "energy_kwh", id="neg"),
    pytest.param(b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": NaN}', "energy_kwh", id="nan"),
    pytest.param(
        b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": Infinity}', "energy_kwh", id="infinity"
    ),
    pytest.param(b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": 2e9}', "energy_kwh", id="huge"),
    pytest.param(b'{"ts": "2024-05-01T12:00:00", "energy_kwh": 1}', "ts", id="naive-ts"),
    pytest.param(b'{"ts": "2999-01-01T00:00:00Z", "energy_kwh": 1}', "ts", id="future-ts"),
    pytest.param(b'{"ts": true, "energy_kwh": 1}', "ts", id="bool-ts"),
    pytest.param(b'{"ts": 0, "energy_kwh": 1, "relay": "ajar"}', "relay", id="relay"),
    pytest.param(b'{"ts": 0, "energy_kwh": 1, "seq": "7"}', "seq", id="seq-type"),
    pytest.param(b'{"ts": 0, "energy_kwh": 1, "tou_kwh": {"peak": -1}}', "tou_kwh.peak", id="tou"),
    pytest.param(b'{"ts": 0, "energy_kwh": 1, "energy_kWh": 1}', "energy_kWh", id="unknown-key"),
    pytest.param(b'{"ts": 0, "energy_kwh": 1, "energy_kwh": 2}', "energy_kwh", id="dup-key"),
]


@pytest.mark.parametrize(("payload", "field"), MALFORMED)
def test_malformed_reading_is_dead_lettered_with_field_and_counted(
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
    probe_factory: Callable[[str], Probe],
    payload: bytes,
    field: str,
) -> None:
    dead = probe_factory("gateway/deadletter")
    gw = gateway_factory(fake_sink)
    publisher.publish("meters/M1/reading", payload)
    # A good reading afterwards proves the gateway neither crashed nor stalled.
    publisher.publish("meters/M1/reading", b'{"ts": 0, "energy_kwh": 1}')
    wait_until(lambda: len(dead.messages) == 1 and len(fake_sink.readings) == 1)
    letter = json.loads(dead.payloads()[0])
    assert letter["topic"] == "meters/M1/reading"
    assert letter["payload"] == payload.decode()
    assert letter["payload_encoding"] == "utf-8"
    assert letter["reason"].startswith(f"{field}:"), letter["reason"]
    assert datetime.fromisoformat(letter["received_at"]).tzinfo is not None
    wait_until(lambda: gw.counters.messages_acked == 2)
    assert gw.counters.dead_letters == 1
    assert gw.counters.readings_accepted == 1


def test_non_utf8_payload_is_dead_lettered_as_base64(
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
    probe_factory: Callable[[str], Probe],
) -> None:
    dead = probe_factory("gateway/deadletter")
    gateway_factory(fake_sink)
    publisher.publish("meters/M1/reading", b"\xff\x00\xfe")
    wait_until(lambda: len(dead.messages) == 1)
    letter = json.loads(dead.payloads()[0])
    assert letter["payload_encoding"] == "base64"
    assert base64.b64decode(letter["payload"]) == b"\xff\x00\xfe"
    assert letter["reason"] == "$: payload is not UTF-8 text"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        pytest.param(
            "meters/M404/reading",
            b'{"ts": 0, "energy_kwh": 1}',
            "topic: unknown meter 'M404'",
            id="unknown-meter",
        ),
        pytest.param(
            "tele/ghost/SENSOR",
            b'{"Time": "2024-01-01T00:00:00", "ENERGY": {"Total": 1}}',
            "topic: unknown Tasmota device 'ghost'",
            id="unknown-tasmota-device",
        ),
    ],
)
def test_unknown_source_is_dead_lettered(
    gateway_factory: GatewayFactory,
    fake_sink: FakeSink,
    publisher: Publisher,
    probe_factory: Callable[[str], Probe],
    topic: str,
    payload: bytes,
    reason: str,
) -> None:
    dead = probe_factory("gateway/deadletter")
    gw = gateway_factory(fake_sink, meter_known=lambda meter_id: meter_id == "M1")
    publisher.publish(topic, payload)
    wait_until(lambda: len(dead.messages) == 1)
    assert json.loads(dead.payloads()[0])["reason"] == reason
    assert fake_sink.readings == []
    wait_until(lambda: gw.counters.dead_letters == 1)
