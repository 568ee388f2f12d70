"""The whole runtime, end to end: reading published -> ledger entry committed -> alert on MQTT.

Not a test. Starts its own Mosquitto, a fresh ledger (SQLite file, or a PostgreSQL schema
that is dropped afterwards) with one flat-tariff account and meter per simulated meter, and
`prepaid-gateway run --config` as its own process. A concentrator then offers `rate`
readings a second for `duration` seconds: every meter reads once a second (meter time steps
15 minutes), batched 100 readings to a message, the messages of a second spread evenly over
it, published at QoS 1 without waiting for PUBACKs (the offered load does not slow down
when the gateway does). One account in 25 is a probe, with an opening balance that makes
its only low-balance alert fire on a chosen second's reading.

Measured, each from the wall-clock instant the reading's message was published:
- entry recorded: the ledger entry's `recorded_at` (when the gateway took up the batch that
  holds the reading; the batch's rating and commit come after it);
- commit visible: a probe thread polls the probe meters' `last_ts` every 10 ms and notes when
  each reading becomes visible to another connection (committed; +10 ms resolution);
- alert received: the probe accounts' alerts arriving on `accounts/{id}/alerts` (after the
  commit, the outbox dispatcher's pass (every 0.5 s when idle) publishes them);
- throughput achieved: readings / (last reading committed - first message published).

    .venv/bin/python -m bench.e2e [--backend sqlite|postgresql|both] [--rates 5000,2500,1000]
                                  [--duration 15]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import Engine, func, select

from bench.drivers_mqtt import start_mosquitto
from drivers.mqtt import BrokerAddress, Connection, Inbound, SessionOptions
from drivers.mqtt.payloads import dump_object
from gateway.ledger import admin
from gateway.storage.db import READ_ONLY, UnitOfWork, make_engine
from gateway.storage.schema import ledger_entries, meters, readings
from tests.dbs import fresh_database

ORIGIN = datetime(2024, 6, 10, tzinfo=UTC)  # meter time: mid-month, one billing cycle
STEP = timedelta(minutes=15)  # meter time per tick (one real second)
PER_MESSAGE = 100
PROBE_EVERY = 25
PRICE = Decimal("0.2734")
LEVEL = Decimal(5)
TARIFF = {
    "tariff_id": "flat", "version": 1, "effective_from": "2024-01-01", "timezone": "UTC",
    "currency": "EUR", "price_per_kwh": str(PRICE),
}  # fmt: skip


def power_w(index: int) -> Decimal:
    return Decimal(800 + index % 400)


def register_kwh(index: int, tick: int) -> Decimal:
    kwh = power_w(index) * Decimal((STEP * tick).total_seconds()) / 3_600_000
    return kwh.quantize(Decimal("0.001"), rounding=ROUND_FLOOR)


def charge(kwh: Decimal) -> Decimal:
    return (PRICE * kwh).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def alert_tick(index: int, ticks: int) -> int:
    """The second (tick, 1-based) on which probe meter `index` crosses the alert level."""
    return 1 + (index // PROBE_EVERY) % ticks


def populate(engine: Engine, count: int, ticks: int) -> None:
    """One account and meter per simulated meter; probes cross 5.00 on their alert tick."""
    now = datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        admin.register_tariff_version(uow, TARIFF, now)
        for index in range(count):
            opening = Decimal("1000.00")
            if index % PROBE_EVERY == 0:  # balance exactly 5.00 one tick before it crosses
                opening = LEVEL + charge(register_kwh(index, alert_tick(index, ticks) - 1))
            account_id = f"A{index:05d}"
            admin.create_account(uow, account_id, currency="EUR", tariff_id="flat", now=now,
                                 opening_balance=opening)  # fmt: skip
            admin.add_meter(uow, f"B{index:05d}", account_id=account_id, serial=f"S{index}",
                            installed_at=ORIGIN, install_reading_kwh=Decimal(0))  # fmt: skip
        uow.commit()


def gateway_config(url: str, port: int, http_port: int) -> dict[str, Any]:
    return {
        "database": {"url": url},
        "mqtt": {"port": port, "client_id": "bench-e2e",
                 "batch": {"max_messages": 20, "max_wait_ms": 20, "queue_size": 2000}},
        "alerts": {"default_levels": [{"kind": "money", "threshold": str(LEVEL), "margin": "1"}]},
        "credit_control": {"friendly_hours": None, "friendly_weekends": False},
        "standing_charges": {"enabled": False},
        "offline": {"alert_after_intervals": 100_000_000, "check_every_s": 3600},
        "http": {"port": http_port},
        "logging": {"level": "WARNING", "json": True},
    }  # fmt: skip


@dataclass
class Run:
    published_at: dict[tuple[int, int], float] = field(default_factory=dict)  # (tick, msg)
    visible_at: dict[tuple[int, int], float] = field(default_factory=dict)  # (meter, tick)
    alerts_at: dict[str, float] = field(default_factory=dict)  # account -> received
    lock: threading.Lock = field(default_factory=threading.Lock)


def publish(port: int, count: int, ticks: int, run: Run) -> None:
    """`count` readings a second for `ticks` seconds, messages spread over each second."""
    connection = Connection(broker=BrokerAddress(port=port),
                            session=SessionOptions(client_id="bench-dcu"))  # fmt: skip
    connection.start()
    messages = (count + PER_MESSAGE - 1) // PER_MESSAGE
    began = time.monotonic()
    try:
        for tick in range(1, ticks + 1):
            ts = (ORIGIN + STEP * tick).isoformat()
            for message in range(messages):
                first = message * PER_MESSAGE
                entries = [
                    {"meter_id": f"B{i:05d}", "ts": ts, "energy_kwh": f"{register_kwh(i, tick)}"}
                    for i in range(first, min(first + PER_MESSAGE, count))
                ]
                payload = dump_object({"readings": entries})
                due = began + (tick - 1) + message / messages
                time.sleep(max(0.0, due - time.monotonic()))
                run.published_at[(tick, message)] = time.time()
                connection.publish_nowait("concentrators/BENCH/readings", payload)
    finally:
        time.sleep(0.5)  # let paho flush the last PUBLISHes before the DISCONNECT
        connection.stop()


def watch_commits(url: str, count: int, ticks: int, run: Run, stop: threading.Event) -> None:
    engine = make_engine(url, execution_options={READ_ONLY: True})  # SQLite: no write lock
    probes = [f"B{i:05d}" for i in range(0, count, PROBE_EVERY)]
    query = select(meters.c.id, meters.c.last_ts).where(meters.c.id.in_(probes))
    try:
        while not stop.is_set():
            with engine.connect() as connection:
                rows = connection.execute(query).all()
            seen = time.time()
            for meter_id, last_ts in rows:
                if last_ts is None:
                    continue
                tick = round((last_ts - ORIGIN) / STEP)
                index = int(meter_id[1:])
                for earlier in range(1, tick + 1):
                    run.visible_at.setdefault((index, earlier), seen)
            stop.wait(0.01)
    finally:
        engine.dispose()


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def run_once(backend: str, rate: int, duration: int, workdir: Path) -> dict[str, Any]:
    count, ticks = rate, duration  # every meter once a second
    broker, port = start_mosquitto(workdir)
    run = Run()
    with fresh_database(backend, workdir) as url:
        engine = make_engine(url)
        reads = make_engine(url, execution_options={READ_ONLY: True})  # SQLite: no write lock
        setup_began = time.monotonic()
        populate(engine, count, ticks)
        setup_s = time.monotonic() - setup_began
        http_port = _free_port()
        config_path = workdir / "gateway.yaml"
        config_path.write_text(yaml.safe_dump(gateway_config(url, port, http_port)), "utf-8")
        log = (workdir / "gateway.log").open("wb")
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--config", str(config_path)],
            stdout=log, stderr=log,
        )  # fmt: skip
        listener = Connection(
            broker=BrokerAddress(port=port),
            session=SessionOptions(client_id="bench-alerts"),
            subscriptions=[("accounts/+/alerts", 1)],
            on_message=lambda m: _alert(m, run),
        )
        listener.start()
        stop = threading.Event()
        try:
            _wait_ready(http_port, gateway)
            watcher = threading.Thread(
                target=watch_commits, args=(url, count, ticks, run, stop), daemon=True
            )
            watcher.start()
            publish(port, count, ticks, run)
            total = count * ticks
            deadline = time.monotonic() + 300
            while _stored(reads) < total and time.monotonic() < deadline:
                time.sleep(0.05)
            done_at = time.time()
            stored = _stored(reads)
            probes = len(range(0, count, PROBE_EVERY))
            deadline = time.monotonic() + 30
            while len(run.alerts_at) < probes and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(60)
            listener.stop()
            log.close()
        recorded = _recorded_latencies(reads, run, count)
        reads.dispose()
        engine.dispose()
    broker.terminate()
    broker.wait()
    messages = (count + PER_MESSAGE - 1) // PER_MESSAGE
    visible = [
        at - run.published_at[(tick, index // PER_MESSAGE)]
        for (index, tick), at in run.visible_at.items()
        if (tick, index // PER_MESSAGE) in run.published_at
    ]
    alerts = [
        at - run.published_at[(alert_tick(index, ticks), index // PER_MESSAGE)]
        for account_id, at in run.alerts_at.items()
        for index in [int(account_id[1:])]
    ]
    first = min(run.published_at.values())
    last_published = max(run.published_at.values())
    return {
        "backend": backend, "offered_per_s": rate, "meters": count, "seconds": duration,
        "messages": messages * ticks, "readings": count * ticks, "stored": stored,
        "setup_s": round(setup_s, 1),
        "offered_achieved_per_s": round(count * ticks / (last_published - first)),
        "throughput_per_s": round(stored / (done_at - first)),
        "recorded_ms": [round(v * 1000) for v in percentiles(recorded)],
        "visible_ms": [round(v * 1000) for v in percentiles(visible)],
        "alert_ms": [round(v * 1000) for v in percentiles(alerts)],
        "alerts": f"{len(run.alerts_at)}/{len(range(0, count, PROBE_EVERY))}",
    }  # fmt: skip


def _alert(message: Inbound, run: Run) -> None:
    payload = json.loads(message.payload)
    with run.lock:
        run.alerts_at.setdefault(payload["account_id"], time.time())


def _recorded_latencies(engine: Engine, run: Run, count: int) -> list[float]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(ledger_entries.c.meter_id, ledger_entries.c.curr_ts,
                   ledger_entries.c.recorded_at).where(ledger_entries.c.kind == "deduction")
        ).all()  # fmt: skip
    found = []
    for meter_id, curr_ts, recorded_at in rows:
        tick = round((curr_ts - ORIGIN) / STEP)
        published = run.published_at.get((tick, int(meter_id[1:]) // PER_MESSAGE))
        if published is not None and int(meter_id[1:]) < count:
            found.append(recorded_at.timestamp() - published)
    return found


def _stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(readings)).scalar_one())


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"gateway exited with {process.returncode}"
            raise RuntimeError(msg)
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    msg = "gateway not ready within 60 s"
    raise RuntimeError(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--rates", default="5000,2500,1000", help="offered readings/s, a list")
    parser.add_argument("--duration", type=int, default=15, help="seconds of offered load")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        "backend | offered/s | achieved offer/s | committed/s | stored | recorded p50/p99/max ms"
        " | visible p50/p99/max ms | alert p50/p99/max ms | alerts"
    )
    for backend in backends:
        for rate in (int(r) for r in args.rates.split(",")):
            with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
                result = run_once(backend, rate, args.duration, Path(tmp))
            print(
                f"{backend} | {rate} | {result['offered_achieved_per_s']} | "
                f"{result['throughput_per_s']} | {result['stored']}/{result['readings']} | "
                f"{'/'.join(map(str, result['recorded_ms']))} | "
                f"{'/'.join(map(str, result['visible_ms']))} | "
                f"{'/'.join(map(str, result['alert_ms']))} | {result['alerts']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
