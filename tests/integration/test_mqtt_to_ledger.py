"""MQTT -> real Mosquitto -> MqttGateway -> LedgerSink -> ledger, on SQLite and PostgreSQL."""

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.mqtt import BrokerAddress, MqttGateway
from drivers.mqtt.payloads import dump_object
from gateway.sinks import LedgerSink
from gateway.storage.db import make_engine
from simulators.mqtt_concentrator import MqttConcentrator, make_meters
from simulators.mqtt_meter import MeterFault, MeterState, MqttMeter
from tests.integration.conftest import (
    OPENING,
    cumulative_charges,
    flat_charge,
    reading_count,
    stepping_clock,
)
from tests.ledger.world import T0, TOU, World
from tests.mqtt.broker import Mosquitto
from tests.mqtt.conftest import gateway_config, unique
from tests.mqtt.fakes import Probe, Publisher, wait_until

pytestmark = pytest.mark.mqtt

QUARTER = timedelta(minutes=15)


@pytest.fixture
def gateway(broker: Mosquitto, world: World) -> Iterator[tuple[MqttGateway, LedgerSink]]:
    sink = LedgerSink(world.engine)
    gw = MqttGateway(gateway_config(broker.port), sink)
    gw.start()
    yield gw, sink
    gw.stop()


@pytest.fixture
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    pub = Publisher(broker.port, unique("it-pub"))
    pub.connection.start()
    yield pub
    pub.connection.stop()


def installed(world: World, *meter_ids: str) -> None:
    """One account per meter on the flat tariff, installed at T0 reading 0 kWh."""
    for meter_id in meter_ids:
        world.account(f"A-{meter_id}", opening=str(OPENING))
        world.meter(meter_id, f"A-{meter_id}", installed_at=T0, install_reading_kwh=Decimal(0))


def test_meter_and_concentrator_readings_become_charged_entries(
    broker: Mosquitto,
    world: World,
    gateway: tuple[MqttGateway, LedgerSink],
    publisher: Publisher,
) -> None:
    installed(world, "M1", "C0001", "C0002", "C0003")
    world.tariff(TOU)
    world.account("A-T1", "tou")
    world.meter("T1", "A-T1")  # no installation reading: its first reading is the baseline
    meter = MqttMeter(
        MeterState("M1", power_w=Decimal(1500), started_at=T0, balance=Decimal("42.5")),
        broker=BrokerAddress(port=broker.port),
        clock=stepping_clock(T0, QUARTER),
    )
    dcu = MqttConcentrator(
        "DCU1",
        make_meters(3, started_at=T0, prefix="C"),  # 1001, 1002, 1003 W
        broker=BrokerAddress(port=broker.port),
        clock=stepping_clock(T0, QUARTER),
        batch_size=2,  # a tick of 3 meters is two messages
    )
    meter.connect()
    dcu.connect()
    try:
        for _ in range(4):
            meter.publish_reading()
        for _ in range(2):
            dcu.publish_tick()
    finally:
        meter.close()
        dcu.close()
    tou_topic = "concentrators/DCU2/readings"
    for minutes, total, peak, valley in ((720, "15.0", "10.0", "5.0"), (735, "18.5", "12.5", "6")):
        entry = {
            "meter_id": "T1",
            "ts": (T0 + timedelta(minutes=minutes)).isoformat(),
            "energy_kwh": total,
            "tou_kwh": {"peak": peak, "valley": valley},
        }
        publisher.publish(tou_topic, dump_object({"readings": [entry]}))
    wait_until(lambda: reading_count(world) == 4 + 6 + 2, timeout_s=15)

    # M1: 1500 W for 15 min = 0.375 kWh a reading; the running total is rounded once.
    entries = world.entries("A-M1")
    assert [e.energy_kwh for e in entries] == [Decimal("0.375")] * 4
    assert [-e.amount for e in entries] == [Decimal(x) for x in ("0.10", "0.11", "0.10", "0.10")]
    assert [-e.amount for e in entries] == cumulative_charges([Decimal("0.375")] * 4)
    assert world.balance("A-M1") == Decimal("99.59") == OPENING - flat_charge(Decimal("1.5"))
    rows = world.readings("M1")
    assert {(r.balance, r.relay, r.source) for r in rows} == {
        (Decimal("42.5"), "closed", "mqtt:meters/M1/reading")
    }
    assert [r.ts for r in rows] == [T0 + QUARTER * k for k in range(1, 5)]
    # Concentrator meters: registers floor to 1 Wh; two readings each.
    for index, meter_id in enumerate(("C0001", "C0002", "C0003"), start=1):
        power_kw = (Decimal(1000) + index) / 1000
        kwh = [
            (power_kw * Decimal("0.25") * k).quantize(Decimal("0.001"), "ROUND_FLOOR")
            for k in (1, 2)
        ]
        entries = world.entries(f"A-{meter_id}")
        assert [e.curr_kwh for e in entries] == kwh
        assert world.balance(f"A-{meter_id}") == OPENING - flat_charge(kwh[-1])
    # T1: priced from its band registers: 2.5 kWh peak at 0.40 + 1.0 kWh valley at 0.20.
    (tou_entry,) = world.entries("A-T1")
    assert tou_entry.amount == Decimal("-1.20")
    assert tou_entry.details["method"] == "band_registers"
    assert world.balance("A-T1") == Decimal("98.80")
    assert world.verify().violations == ()


def test_republished_readings_are_no_ops(
    world: World, gateway: tuple[MqttGateway, LedgerSink], publisher: Publisher
) -> None:
    installed(world, "M1", "M2")
    gw, sink = gateway
    topic = "meters/M1/reading"
    payloads = [
        dump_object({"ts": (T0 + QUARTER * k).isoformat(), "energy_kwh": f"{k}.25", "seq": k})
        for k in (1, 2, 3)
    ]
    for payload in payloads:
        publisher.publish(topic, payload)
    dcu = {"readings": [{"meter_id": "M2", "ts": (T0 + QUARTER).isoformat(), "energy_kwh": 0.4}]}
    publisher.publish("concentrators/D/readings", dump_object(dcu))
    wait_until(lambda: reading_count(world) == 4 and gw.counters.messages_acked == 4)
    balances = {a: world.balance(a) for a in ("A-M1", "A-M2")}
    assert balances["A-M1"] == OPENING - flat_charge(Decimal("3.25"))

    for payload in (payloads[1], payloads[2], payloads[0]):  # a meter re-sending its backlog
        publisher.publish(topic, payload)
    publisher.publish("concentrators/D/readings", dump_object(dcu))
    wait_until(lambda: gw.counters.messages_acked == 8)
    assert reading_count(world) == 4
    assert {a: world.balance(a) for a in balances} == balances
    assert len(world.entries("A-M1")) == 3
    assert sink.outcomes["duplicate"] == 4
    assert world.anomalies("M1") == []


def test_bad_payloads_are_dead_lettered_and_charge_nothing(
    broker: Mosquitto,
    world: World,
    gateway: tuple[MqttGateway, LedgerSink],
    publisher: Publisher,
) -> None:
    installed(world, "M2", "C0001")
    probe = Probe(broker.port, "gateway/deadletter", unique("it-probe"))
    probe.connection.start()
    meter = MqttMeter(
        MeterState("M2", power_w=Decimal(800), started_at=T0),
        broker=BrokerAddress(port=broker.port),
        clock=stepping_clock(T0, QUARTER),
    )
    meter.connect()
    try:
        for fault in (
            MeterFault.NOT_UTF8,
            MeterFault.NOT_JSON,
            MeterFault.NEGATIVE_ENERGY,
            MeterFault.NAIVE_TS,
        ):
            meter.fault = fault
            meter.publish_reading()
        good = {"meter_id": "C0001", "ts": (T0 + QUARTER).isoformat(), "energy_kwh": "0.5"}
        bad = {"meter_id": "C0001", "ts": (T0 + QUARTER * 2).isoformat(), "energy_kwh": "-3"}
        publisher.publish("concentrators/D/readings", dump_object({"readings": [good, bad]}))
        wait_until(lambda: len(probe.payloads()) == 5 and reading_count(world) == 1)
    finally:
        meter.close()
        probe.connection.stop()
    letters = [json.loads(p) for p in probe.payloads()]
    assert {letter["topic"] for letter in letters} == {
        "meters/M2/reading",
        "concentrators/D/readings",
    }
    assert [letter.get("index") for letter in letters if letter["topic"].startswith("conc")] == [1]
    assert world.readings("M2") == []
    assert world.entries("A-M2") == []
    assert world.balance("A-M2") == OPENING
    (entry,) = world.entries("A-C0001")
    assert entry.amount == -flat_charge(Decimal("0.5"))


def test_a_failing_database_is_not_acked_and_the_readings_come_back(
    broker: Mosquitto, world: World, publisher: Publisher, tmp_path: Path
) -> None:
    installed(world, "M3")
    config = gateway_config(broker.port)
    broken_engine = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no tables
    broken = MqttGateway(config, LedgerSink(broken_engine))
    broken.start()
    try:
        for k in (1, 2, 3):
            payload = {"ts": (T0 + QUARTER * k).isoformat(), "energy_kwh": f"{k}"}
            publisher.publish("meters/M3/reading", dump_object(payload))
        wait_until(lambda: broken.counters.sink_failures >= 1)
        assert broken.counters.messages_acked == 0
    finally:
        broken.stop()
        broken_engine.dispose()
    healthy = MqttGateway(config, LedgerSink(world.engine))  # same client id: same session
    healthy.start()
    try:
        wait_until(lambda: reading_count(world) == 3)
    finally:
        healthy.stop()
    assert world.balance("A-M3") == OPENING - flat_charge(Decimal(3))
