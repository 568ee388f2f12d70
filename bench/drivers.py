"""Drivers into the ledger, end to end (not a test). Run from the repository root:

    .venv/bin/python -m bench.drivers [--messages 500] [--batches 1,10,50] [--profile]
        [--skip-modbus] [--sockets 8] [--units 125] [--interval 5] [--cycles 4]

(a) A simulated concentrator publishes `--messages` batches of 100 readings (QoS 1) to a
    private Mosquitto; the MQTT gateway decodes them and commits them through `LedgerSink`
    into the real ledger on SQLite (validation, rating, entries, hash chain), acking after
    each commit. Readings/s end to end = readings committed / (first publish -> last commit),
    for each `--batches` value (messages per sink call, so 100 x that many readings per
    transaction). Also timed: the sink alone (record_readings + commit) and decoding alone.
    `--profile` profiles the sink calls of the last run (cProfile, top functions).
(b) `--sockets x --units` (8 x 125) simulated prepaid-v1 Modbus TCP meters (in a simulator
    process) polled every `--interval` s for `--cycles` cycles by this process into the same
    kind of ledger, through `PollerSink` (a cycle ends when its samples are committed).
    Reported: each cycle's duration against the interval, outcomes, this process's CPU.
(b') and (c): bench/drivers_modbus.py run as is: the same fleet with a counting sink (no
    ledger), then requests per poll and RS-485 bus time per poll for each built-in model.
"""

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench import drivers_modbus
from bench.drivers_mqtt import decode_only, start_mosquitto, stepping_clock
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.models import MODELS
from drivers.mqtt import BatchPolicy, BrokerAddress, GatewayConfig, MqttGateway, MqttReading
from gateway.ledger import admin
from gateway.sinks import LedgerSink, PollerSink
from gateway.storage.db import UnitOfWork, make_engine
from gateway.storage.migrate import upgrade
from simulators.mqtt_concentrator import MqttConcentrator, make_meters

PER_MESSAGE = 100
TARGET_PER_S = 5_000
T0 = datetime(2024, 6, 1, tzinfo=UTC)
TARIFF = {
    "tariff_id": "flat", "version": 1, "effective_from": "2024-01-01", "timezone": "UTC",
    "currency": "EUR", "price_per_kwh": "0.2734",
}  # fmt: skip


class TimedSink:
    """The ledger sink, timed (and optionally profiled); signals when all readings are in."""

    def __init__(self, ledger: LedgerSink, expected: int, *, profile: bool) -> None:
        self._ledger = ledger
        self.expected = expected
        self.readings = 0
        self.calls = 0
        self.seconds = 0.0
        self.done = threading.Event()
        self.profiler = cProfile.Profile() if profile else None

    def __call__(self, batch: Sequence[MqttReading]) -> None:
        began = time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable()
        try:
            self._ledger(batch)
        finally:
            if self.profiler is not None:
                self.profiler.disable()
        self.seconds += time.perf_counter() - began
        self.calls += 1
        self.readings += len(batch)
        if self.readings >= self.expected:
            self.done.set()


def ledger_url(workdir: Path, meter_ids: list[str], *, installed: bool = True) -> str:
    """A migrated SQLite ledger, one account per meter. Installed at T0 with 0 kWh, every
    reading pays; else the first reading is the baseline. The simulated Modbus meters run 60x
    fast, so their max power is set out of the spike check's way."""
    url = f"sqlite:///{workdir / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with UnitOfWork(engine) as uow:
        admin.register_tariff_version(uow, TARIFF, T0)
        for meter_id in meter_ids:
            admin.create_account(uow, f"A-{meter_id}", currency="EUR", tariff_id="flat",
                                 now=T0, opening_balance=Decimal(100))  # fmt: skip
            admin.add_meter(uow, meter_id, account_id=f"A-{meter_id}", serial=meter_id,
                            installed_at=T0 if installed else None,
                            install_reading_kwh=Decimal(0) if installed else None,
                            max_power_kw=Decimal(100 if installed else 100_000))  # fmt: skip
        uow.commit()
    engine.dispose()
    return url


def run_mqtt(messages: int, max_batch: int, workdir: Path, *, profile: bool) -> dict[str, float]:
    broker, port = start_mosquitto(workdir)
    meters = make_meters(PER_MESSAGE, started_at=T0)
    engine = make_engine(ledger_url(workdir, [m.meter_id for m in meters]))
    ledger = LedgerSink(engine)
    sink = TimedSink(ledger, messages * PER_MESSAGE, profile=profile)
    config = GatewayConfig(
        broker=BrokerAddress(port=port),
        client_id=f"bench-ledger-{max_batch}",
        batch=BatchPolicy(max_messages=max_batch, max_wait_ms=20),
    )
    gateway = MqttGateway(config, sink)
    gateway.start()
    dcu = MqttConcentrator(
        "BENCH", meters, broker=BrokerAddress(port=port),
        clock=stepping_clock(T0, timedelta(minutes=1)), batch_size=PER_MESSAGE,
    )  # fmt: skip
    dcu.connect()
    try:
        began = time.perf_counter()
        for _ in range(messages):
            dcu.publish_tick(confirm=False)
        if not sink.done.wait(timeout=600):
            msg = f"only {sink.readings} of {sink.expected} readings committed"
            raise RuntimeError(msg)
        elapsed = time.perf_counter() - began
    finally:
        dcu.close()
        gateway.stop()
        broker.terminate()
        broker.wait()
        engine.dispose()
    if sink.profiler is not None:
        out = io.StringIO()
        pstats.Stats(sink.profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    return {
        "readings": sink.readings,
        "seconds": elapsed,
        "per_s": sink.readings / elapsed,
        "calls": sink.calls,
        "sink_s": sink.seconds,
        "sink_per_s": sink.readings / sink.seconds,
        "accepted": ledger.outcomes["accepted"],
    }


def mqtt_table(messages: int, batches: list[int], *, profile: bool) -> None:
    print(
        f"(a) concentrator -> Mosquitto -> MqttGateway -> LedgerSink -> ledger on SQLite:"
        f" {messages} messages x {PER_MESSAGE} readings, QoS 1, {PER_MESSAGE} meters"
    )
    print(
        "| msgs/sink call | readings/commit | readings | seconds | readings/s end to end"
        " | sink s | sink readings/s | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for max_batch in batches:
            workdir = Path(tmp) / f"run-{max_batch}"
            workdir.mkdir()
            r = run_mqtt(messages, max_batch, workdir, profile=profile and max_batch == batches[-1])
            assert r["accepted"] == r["readings"], "every reading must be charged"
            verdict = "met" if r["per_s"] >= TARGET_PER_S else "MISSED"
            print(
                f"| {max_batch} | {max_batch * PER_MESSAGE:,} | {r['readings']:,.0f}"
                f" | {r['seconds']:.2f} | {r['per_s']:,.0f} | {r['sink_s']:.2f}"
                f" | {r['sink_per_s']:,.0f} | ≥ {TARGET_PER_S:,}: {verdict} |"
            )
    rate = decode_only(max(messages // 4, 1), PER_MESSAGE)
    print(f"decoding alone (JSON -> pydantic -> MqttReading, no broker, no sink): {rate:,.0f}/s")


async def poll_into_ledger(args: argparse.Namespace, ports: list[int], url: str) -> None:
    links = [ModbusLink.tcp("127.0.0.1", port) for port in ports]
    drivers = [
        ModbusMeterDriver(meter_id=f"s{index}u{unit}", link=link, model=MODELS["prepaid-v1"],
                          unit_id=unit, timeout_s=0.5, retries=0)
        for index, link in enumerate(links) for unit in range(1, args.units + 1)
    ]  # fmt: skip
    engine = make_engine(url)
    ledger = LedgerSink(engine)
    sink = PollerSink(ledger, max_samples=len(drivers), max_wait_s=0.5)
    poller = Poller(drivers, sink=sink, interval_s=args.interval, offline_after=1)
    cpu_before, wall_before = drivers_modbus._cpu_s(), time.monotonic()
    await poller.run(cycles=args.cycles)
    await sink.aclose()
    cpu, wall = drivers_modbus._cpu_s() - cpu_before, time.monotonic() - wall_before
    for link in links:
        link.close()
    engine.dispose()
    print(
        f"| cycle | polled | failed | duration s (incl. commit) | keeps up at {args.interval} s |"
    )
    print("|---|---|---|---|---|")
    for report in sorted(poller.cycles, key=lambda r: r.index):
        keeps_up = "yes" if report.duration_s <= args.interval else "NO"
        print(f"| {report.index} | {report.polled} | {report.failed} | {report.duration_s:.3f}"
              f" | {keeps_up} |")  # fmt: skip
    print(f"ledger outcomes {dict(ledger.outcomes)}, {sink.batches_committed} commits")
    print(f"gateway CPU {cpu:.2f} s in {wall:.1f} s = {cpu / wall:.0%} of one core")


def modbus_into_ledger(args: argparse.Namespace) -> None:
    print(
        f"\n(b) {args.sockets * args.units} prepaid-v1 Modbus TCP meters ({args.sockets} sockets x"
        f" {args.units} units) -> Poller -> PollerSink -> ledger on SQLite, every"
        f" {args.interval} s, {args.cycles} cycles"
    )
    ours, theirs = multiprocessing.Pipe()
    simulator = multiprocessing.Process(
        target=drivers_modbus._simulator,
        args=(args.sockets, args.units, "prepaid-v1", theirs),
        daemon=True,
    )
    simulator.start()
    meter_ids = [f"s{i}u{u}" for i in range(args.sockets) for u in range(1, args.units + 1)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = ledger_url(Path(tmp), meter_ids, installed=False)
            ports = ours.recv()
            asyncio.run(poll_into_ledger(args, ports, url))
        ours.send("stop")
        print(f"simulator CPU {ours.recv():.2f} s (whole run, incl. start-up)")
    finally:
        simulator.join(timeout=10)
        if simulator.is_alive():
            simulator.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--batches", default="1,10,50")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-modbus", action="store_true")
    parser.add_argument("--sockets", type=int, default=8)
    parser.add_argument("--units", type=int, default=125)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--cycles", type=int, default=4)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    mqtt_table(args.messages, batches, profile=args.profile)
    if args.skip_modbus:
        return
    modbus_into_ledger(args)
    fleet = [
        f"--{name}={getattr(args, name)}" for name in ("sockets", "units", "interval", "cycles")
    ]
    print("\n(b') and (c): python -m bench.drivers_modbus", " ".join(fleet))
    sys.argv = [sys.argv[0], *fleet]
    drivers_modbus.main()


if __name__ == "__main__":
    main()
