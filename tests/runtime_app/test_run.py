"""The gateway as a process: MQTT and Modbus readings into the ledger, /metrics, /health,
a graceful SIGTERM, and a refusal to start on a database that is not migrated to head."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from drivers.mqtt.payloads import dump_object
from gateway.storage.db import make_engine
from gateway.storage.migrate import upgrade
from gateway.storage.schema import readings
from tests.dbs import fresh_database
from tests.ledger.world import FLAT, T0, World
from tests.mqtt.broker import Mosquitto, free_port
from tests.mqtt.conftest import unique
from tests.mqtt.fakes import Publisher
from tests.runtime_app.conftest import wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
QUARTER = timedelta(minutes=15)


def count(world: World, meter_id: str) -> int:
    with world.engine.connect() as connection:
        query = select(func.count()).select_from(readings).where(readings.c.meter_id == meter_id)
        return int(connection.execute(query).scalar_one())


def config_for(url: str, broker_port: int, modbus_port: int | None) -> dict[str, Any]:
    links = []
    if modbus_port is not None:
        meters = [{"meter_id": "P1", "unit": 1, "model": "prepaid-v1", "poll_interval_s": 1.0}]
        links = [{"kind": "tcp", "host": "127.0.0.1", "port": modbus_port, "timeout_s": 0.5,
                  "retries": 0, "meters": meters}]  # fmt: skip
    return {
        "database": {"url": url},
        "mqtt": {"port": broker_port, "client_id": unique("gw-run"),
                 "batch": {"max_messages": 20, "max_wait_ms": 20, "sink_retry_delay_s": 0.2}},
        "modbus": {"links": links},
        "http": {"port": free_port()},
        "logging": {"level": "INFO", "json": True},
    }  # fmt: skip


def publish_readings(publisher: Publisher, meter_id: str, quarters: range) -> None:
    for k in quarters:
        payload = {"ts": (T0 + QUARTER * k).isoformat(), "energy_kwh": f"{k}.5"}
        publisher.publish(f"meters/{meter_id}/reading", dump_object(payload))


def metric(text: str, name: str) -> float:
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name)]
    assert values, f"{name} not in /metrics"
    return float(values[0])


def test_run_ingests_mqtt_and_modbus_serves_metrics_and_drains_on_sigterm(
    broker: Mosquitto, modbus_meter: int, gateway_process: Any, tmp_path: Path
) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        world = World(make_engine(url))
        world.tariff(FLAT)
        for meter_id in ("M1", "P1"):
            world.account(f"A-{meter_id}")
            world.meter(meter_id, f"A-{meter_id}", installed_at=T0, install_reading_kwh=Decimal(0))
        config = config_for(url, broker.port, modbus_meter)
        gateway = gateway_process(config)
        gateway.start()
        gateway.wait_healthy(path="/ready")  # subscribed: a first session gets what follows
        publisher = Publisher(broker.port, unique("pub"))
        publisher.connection.start()
        try:
            publish_readings(publisher, "M1", range(1, 5))
            wait_until(lambda: count(world, "M1") == 4, what="4 MQTT readings stored")
            wait_until(lambda: count(world, "P1") >= 3, what="3 Modbus readings stored")
            assert len(world.entries("A-M1")) >= 4  # opening + deductions
            assert world.balance("A-M1") < Decimal("100.00")
            wait_until(lambda: world.balance("A-P1") < Decimal("100.00"), what="P1 charged")
            assert world.anomalies("P1") == []

            ready = gateway.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": True, "mqtt": True}
            assert gateway.get("/health").json() == {"status": "ok"}
            text = gateway.get("/metrics").text
            assert metric(text, 'prepaid_gateway_readings_total{outcome="accepted"}') >= 6
            assert metric(text, "prepaid_gateway_deductions_total") >= 4
            assert metric(text, "prepaid_gateway_mqtt_connected") == 1.0
            assert metric(text, 'prepaid_gateway_modbus_poll_seconds_count{outcome="ok"}') >= 3
            assert metric(text, "prepaid_gateway_last_commit_timestamp_seconds") > 0

            publish_readings(publisher, "M1", range(5, 45))  # a burst, then SIGTERM at once
            assert gateway.terminate() == 0, gateway.output()
        finally:
            publisher.connection.stop()
        log = [json.loads(line) for line in gateway.output().splitlines() if line.startswith("{")]
        events = [entry["event"] for entry in log]
        assert "gateway_stopping" in events
        assert events[-1] == "gateway_stopped"
        stored_at_stop = count(world, "M1")
        # Graceful drain: what the stopped gateway did not commit it did not ack either, so
        # the broker hands it to the next start (same client id); nothing is lost or doubled.
        again = gateway_process(config)
        again.start()
        again.wait_healthy()
        wait_until(lambda: count(world, "M1") == 44, what="all 44 MQTT readings stored")
        assert again.terminate() == 0, again.output()
        assert stored_at_stop <= 44
        assert not world.verify().violations
        world.engine.dispose()


@pytest.mark.parametrize("revision", [None, "0001"])
def test_a_database_not_at_head_is_refused_with_the_command_to_run(
    broker: Mosquitto, gateway_process: Any, tmp_path: Path, revision: str | None
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    if revision is not None:
        engine = make_engine(url)
        upgrade(engine, revision)
        engine.dispose()
    gateway = gateway_process(config_for(url, broker.port, None))
    gateway.start()
    assert gateway.process is not None
    assert gateway.process.wait(30) == 1
    output = gateway.output()
    assert "refusing to start" in output
    assert "prepaid-gateway db upgrade" in output
    assert f"is at revision {revision or 'empty (no schema)'}" in output
