"""End to end: `prepaid-gateway run --config` as a process, simulators, the real broker and ledger.

Simulated meter time: an MQTT meter's clock is a `MeterClock` that moves one `step` each time
the meter takes a reading, so a simulated day passes in a few real seconds and every reading
time is known exactly. It starts on `ORIGIN`, a fixed day in the past, in the middle of a
billing month: the whole run is one cycle, which the independent calculation relies on.
Modbus meters are read by the poller at wall-clock time; their truth is the simulator's
constant power times (accelerated) real time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Connection as DbConnection
from sqlalchemy import Engine, func, select

from drivers.mqtt import BrokerAddress, Connection, Inbound, SessionOptions
from gateway.storage.db import READ_ONLY, make_engine
from gateway.storage.schema import alerts, ledger_entries, meter_commands, meters, outbox, readings
from simulators.mqtt_concentrator import MqttConcentrator, make_meters
from simulators.mqtt_meter import MeterState, MqttMeter
from tests.dbs import BACKENDS, fresh_database
from tests.ledger.world import FLAT, World
from tests.mqtt.broker import free_port, port_open
from tests.mqtt.conftest import broker, unique  # the session's own Mosquitto

__all__ = ["broker"]

PRICE_PER_KWH = Decimal(FLAT["price_per_kwh"])
ORIGIN = datetime(2024, 6, 10, tzinfo=UTC)  # meter time starts here: mid-June, one cycle
LEVELS = (Decimal(10), Decimal(5))  # money alert levels, margin 1 each
REGISTER_STEP_KWH = Decimal("0.001")


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll `condition` every 20 ms; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            msg = f"{what}: not within {timeout_s} s"
            raise AssertionError(msg)
        time.sleep(0.02)


def flat_charge(energy_kwh: Decimal) -> Decimal:
    """The independent calculation: price x the cycle's kWh, rounded once, half up."""
    return (PRICE_PER_KWH * energy_kwh).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class MeterClock:
    """A simulated meter's clock: each call (one reading) is `step` later; `current` reads it
    without moving it (commands are carried out at the time of the last reading)."""

    def __init__(self, step: timedelta, start: datetime = ORIGIN) -> None:
        self.step = step
        self.times: list[datetime] = []
        self._now = start

    def __call__(self) -> datetime:
        self._now += self.step
        self.times.append(self._now)
        return self._now

    def current(self) -> datetime:
        return self._now


class AlertListener:
    """Subscribes to every account's alert topic and records the alert payloads (QoS 1)."""

    def __init__(self, port: int) -> None:
        self._lock = threading.Lock()
        self.payloads: list[dict[str, Any]] = []
        self.connection = Connection(
            broker=BrokerAddress(port=port),
            session=SessionOptions(client_id=unique("e2e-alerts")),
            subscriptions=[("accounts/+/alerts", 1)],
            on_message=self._record,
        )

    def _record(self, message: Inbound) -> None:
        payload = json.loads(message.payload)
        payload["received_at"] = message.received_at
        with self._lock:
            self.payloads.append(payload)

    def received(self, account_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self.payloads if account_id in (None, p["account_id"])]

    def alert_ids(self) -> set[str]:
        return {p["alert_id"] for p in self.received()}


@pytest.fixture
def alert_listener(broker: Any) -> Iterator[AlertListener]:
    listener = AlertListener(broker.port)
    listener.connection.start()
    yield listener
    listener.connection.stop()


class Gateway:
    """`prepaid-gateway run --config FILE` as a process (the real CLI), log kept in a file."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.config = config
        self.path = workdir / "gateway.yaml"
        self.path.write_text(yaml.safe_dump(config), "utf-8")
        self.log = workdir / "gateway.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait for /ready (the database answers, MQTT is subscribed)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.path)],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_until(self._ready, timeout_s, "gateway /ready")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            msg = f"gateway exited with {self.process.returncode}:\n{self.output()[-4000:]}"
            raise AssertionError(msg)
        try:
            url = f"http://127.0.0.1:{self.config['http']['port']}/ready"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no drain, no DISCONNECT, whatever was in flight is cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""


def gateway_config(url: str, broker_port: int, links: list[dict[str, Any]]) -> dict[str, Any]:
    """Credit control on, friendly hours off (relays switch whenever the balance says so)."""
    return {
        "database": {"url": url},
        "mqtt": {
            "port": broker_port,
            "client_id": unique("e2e-gw"),
            "batch": {"max_messages": 100, "max_wait_ms": 20, "sink_retry_delay_s": 0.2},
        },
        "modbus": {"links": links},
        "alerts": {
            "default_levels": [
                {"kind": "money", "threshold": str(level), "margin": "1.00"} for level in LEVELS
            ]
        },
        "credit_control": {
            "friendly_hours": None,
            "friendly_weekends": False,
            "reconnect_level": "0",
        },
        # The tariff has no standing charge, and the job runs on wall-clock days anyway.
        "standing_charges": {"enabled": False},
        # Meter clocks run in the simulated past: a wall-clock offline check would call every
        # meter silent since 2024, so it is pushed out of reach here.
        "offline": {"alert_after_intervals": 100_000_000, "check_every_s": 3600},
        "http": {"port": free_port()},
        "logging": {"level": "INFO", "json": True},
    }


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Gateway]]:
    made: list[Gateway] = []

    def make(config: dict[str, Any]) -> Gateway:
        workdir = tmp_path / f"gw{len(made)}"
        workdir.mkdir()
        made.append(Gateway(config, workdir))
        return made[-1]

    yield make
    for gateway in made:
        gateway.kill()


class ModbusSimulator:
    """`prepaid-gateway simulate modbus-tcp`: one prepaid-v1 meter at a constant power."""

    def __init__(self, power_w: Decimal, acceleration: int) -> None:
        self.power_w, self.acceleration = power_w, acceleration
        self.port = free_port()
        self.started_before = datetime.now(UTC)  # its clock starts after this
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "simulate", "modbus-tcp", "--model", "prepaid-v1",
             "--port", str(self.port), "--unit", "1", "--power-w", str(power_w),
             "--acceleration", str(acceleration)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: port_open(self.port), 15, "the Modbus simulator listening")
        self.started_after = datetime.now(UTC)  # ... and before this

    def energy_bounds_kwh(self, at: datetime) -> tuple[Decimal, Decimal]:
        """What its register (0.01 kWh steps, floored) can show at wall time `at`."""
        kw_per_s = self.power_w * self.acceleration / 1000 / 3600
        low = kw_per_s * Decimal((at - self.started_after).total_seconds()) - Decimal("0.01")
        high = kw_per_s * Decimal((at - self.started_before).total_seconds())
        return low, high

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def modbus_simulators() -> Iterator[Callable[[Decimal, int], ModbusSimulator]]:
    started: list[ModbusSimulator] = []

    def make(power_w: Decimal, acceleration: int) -> ModbusSimulator:
        started.append(ModbusSimulator(power_w, acceleration))
        return started[-1]

    yield make
    for simulator in started:
        simulator.stop()


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A migrated, empty ledger with the flat tariff (no standing charge), on each backend."""
    with fresh_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        ledger = World(engine)
        ledger.tariff(FLAT)
        yield ledger
        engine.dispose()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def reader(engine: Engine) -> DbConnection:
    """A read-only connection: on SQLite a plain BEGIN, so polling never takes the write lock
    the gateway's ingest needs (the engine's default is BEGIN IMMEDIATE)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def rows(engine: Engine, query: Any) -> list[Any]:
    with reader(engine) as connection:
        return list(connection.execute(query))


def reading_count(engine: Engine, meter_id: str | None = None) -> int:
    query = select(func.count()).select_from(readings)
    if meter_id is not None:
        query = query.where(readings.c.meter_id == meter_id)
    with reader(engine) as connection:
        return int(connection.execute(query).scalar_one())


def alert_rows(engine: Engine) -> list[Any]:
    return rows(engine, select(alerts).order_by(alerts.c.created_at, alerts.c.id))


def undelivered(engine: Engine) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
    with reader(engine) as connection:
        return int(connection.execute(query).scalar_one())


def commands_of(engine: Engine, meter_id: str) -> list[Any]:
    query = (
        select(meter_commands)
        .where(meter_commands.c.meter_id == meter_id)
        .order_by(meter_commands.c.created_at, meter_commands.c.id)
    )
    return rows(engine, query)


def relay_of(engine: Engine, meter_id: str) -> str:
    with reader(engine) as connection:
        relay = connection.execute(select(meters.c.relay).where(meters.c.id == meter_id))
        return str(relay.scalar_one())


def last_entry_recorded_at(engine: Engine) -> datetime | None:
    with reader(engine) as connection:
        value = connection.execute(select(func.max(ledger_entries.c.recorded_at))).scalar()
    return value if isinstance(value, datetime) else None


def register_kwh(power_w: Decimal, elapsed: timedelta, start_kwh: Decimal = Decimal(0)) -> Decimal:
    """What a meter register shows after `elapsed` at `power_w`: exact energy, floored."""
    kwh = start_kwh + power_w * Decimal(elapsed.total_seconds()) / 3_600_000
    return kwh.quantize(REGISTER_STEP_KWH, rounding=ROUND_FLOOR)


class Fleet:
    """MQTT meters (answering commands) and one concentrator, ticking every `tick_s`."""

    def __init__(
        self,
        port: int,
        powers_w: dict[str, Decimal],
        *,
        step: timedelta,
        tick_s: float,
        concentrator: tuple[str, str, int, Decimal] | None = None,
    ) -> None:
        address = BrokerAddress(port=port)
        self.step, self.tick_s = step, tick_s
        self.clocks: dict[str, MeterClock] = {}
        self.meters: dict[str, MqttMeter] = {}
        for meter_id, power_w in powers_w.items():
            clock = self.clocks[meter_id] = MeterClock(step)
            state = MeterState(meter_id, power_w=power_w, started_at=ORIGIN)
            self.meters[meter_id] = MqttMeter(
                state, broker=address, clock=clock, command_clock=clock.current
            )
        self.dcu: MqttConcentrator | None = None
        self.dcu_states: list[MeterState] = []
        if concentrator is not None:
            dcu_id, prefix, count, power_w = concentrator
            self.dcu_clock = MeterClock(step)
            self.dcu_states = make_meters(count, started_at=ORIGIN, prefix=prefix, power_w=power_w)
            self.dcu = MqttConcentrator(
                dcu_id, self.dcu_states, broker=address, clock=self.dcu_clock, batch_size=50
            )
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-fleet", daemon=True)

    def states(self) -> dict[str, MeterState]:
        found = {meter_id: meter.state for meter_id, meter in self.meters.items()}
        return found | {state.meter_id: state for state in self.dcu_states}

    def times(self, meter_id: str) -> list[datetime]:
        if meter_id in self.clocks:
            return self.clocks[meter_id].times
        return self.dcu_clock.times

    def published(self) -> int:
        return sum(len(self.times(meter_id)) for meter_id in self.states())

    def start(self, *, max_ticks: int) -> None:
        for meter in self.meters.values():
            meter.connect()
        if self.dcu is not None:
            self.dcu.connect()
        self._max_ticks = max_ticks
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set() and self.ticks < self._max_ticks:
            for meter in self.meters.values():
                meter.publish_reading()  # QoS 1, PUBACK awaited
            if self.dcu is not None:
                self.dcu.publish_tick()
            self.ticks += 1
            next_at += self.tick_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()

    def wait_stopped(self, timeout_s: float) -> None:
        self._thread.join(timeout=timeout_s)
        assert not self._thread.is_alive(), "the fleet did not finish publishing"

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        for meter in self.meters.values():
            meter.close()
        if self.dcu is not None:
            self.dcu.close()
