"""Modbus driver bench (not a test): many meters polled by one process; bus time per model.

    .venv/bin/python -m bench.drivers_modbus [--sockets 8] [--units 125] [--interval 5] \
        [--cycles 4] [--dead 0] [--model prepaid-v1]

(a) ``--sockets x --units`` simulated Modbus TCP meters (default 8 x 125 = 1,000): one
    simulator *process* serves ``--sockets`` TCP servers with ``--units`` unit ids each
    (like TCP gateways fronting RS-485 buses); this gateway process opens one
    ``ModbusLink`` per socket (one request at a time per socket, as on a bus) and one
    ``Poller`` polls all meters every ``--interval`` s for ``--cycles`` cycles. Reported:
    each cycle's duration against the interval, samples, failures, and the CPU seconds
    of this process and of the simulator process. ``--dead N`` adds N unit ids nobody
    answers (spread over the sockets) to show they go offline and cost nothing after.
(b) For each built-in model: requests per poll as planned vs the minimum possible, and
    RS-485 bus time per poll at 9600 baud from the frame sizes (DOMAIN.md: about
    20 + 2N characters of 10 bits for an N-register read), before meter turnaround.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import resource
import time
from datetime import UTC, datetime
from decimal import Decimal

from drivers.base import MeterSample
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.planner import minimum_requests, plan_reads, rtu_bus_time_s
from drivers.modbus.poller import Poller
from drivers.models import MODELS
from simulators.meter import AcceleratedClock, VirtualMeter
from simulators.modbus_server import MeterBusContext, SimulatedUnit, serve_tcp
from simulators.profiles import FOUR_BANDS, RESIDENTIAL, SINGLE_BAND


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _simulator(
    sockets: int, units: int, model_name: str, conn: multiprocessing.connection.Connection
) -> None:
    async def serve() -> None:
        model = MODELS[model_name]
        clock = AcceleratedClock(datetime.now(UTC), factor=60)
        contexts = []
        for _ in range(sockets):
            bus = {}
            for unit_id in range(1, units + 1):
                meter = VirtualMeter(
                    clock=clock,
                    profile=RESIDENTIAL,
                    bands=FOUR_BANDS if model.band_registers else SINGLE_BAND,
                    balance=Decimal("100.00"),
                )
                bus[unit_id] = SimulatedUnit(meter, model)
            contexts.append(MeterBusContext(bus))
        servers = [await serve_tcp(context) for context in contexts]
        conn.send([server.port for server in servers])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        conn.send(_cpu_s())

    logging.disable(logging.WARNING)
    asyncio.run(serve())


async def _poll(args: argparse.Namespace, ports: list[int]) -> None:
    model = MODELS[args.model]
    links = [ModbusLink.tcp("127.0.0.1", port) for port in ports]
    drivers = []
    for index, link in enumerate(links):
        dead = args.dead // len(links) + (1 if index < args.dead % len(links) else 0)
        for unit_id in range(1, args.units + dead + 1):
            drivers.append(
                ModbusMeterDriver(
                    meter_id=f"s{index}u{unit_id}",
                    link=link,
                    model=model,
                    unit_id=unit_id,
                    timeout_s=0.5,
                    retries=0,
                )
            )
    samples = 0

    async def sink(_: MeterSample) -> None:
        nonlocal samples
        samples += 1

    poller = Poller(drivers, sink=sink, interval_s=args.interval, offline_after=1)
    cpu_before, wall_before = _cpu_s(), time.monotonic()
    await poller.run(cycles=args.cycles)
    cpu, wall = _cpu_s() - cpu_before, time.monotonic() - wall_before
    for link in links:
        link.close()
    print(
        f"\n(a) {len(drivers)} meters ({args.sockets} sockets x {args.units} units"
        f" + {args.dead} dead), model {model.name}, interval {args.interval} s"
    )
    print(f"{'cycle':>5} {'polled':>7} {'failed':>7} {'duration s':>11} {'keeps up':>9}")
    for report in sorted(poller.cycles, key=lambda r: r.index):
        keeps_up = "yes" if report.duration_s <= args.interval else "NO"
        print(
            f"{report.index:>5} {report.polled:>7} {report.failed:>7}"
            f" {report.duration_s:>11.3f} {keeps_up:>9}"
        )
    requests = sum(link.requests for link in links)
    print(f"samples {samples}, requests {requests}, wall {wall:.1f} s")
    print(
        f"gateway CPU {cpu:.2f} s = {cpu / wall:.0%} of one core,"
        f" {cpu / max(requests, 1) * 1e3:.3f} ms CPU per request"
    )


def _models_table() -> None:
    print("\n(b) requests per poll and RS-485 bus time per poll (8N1, before turnaround)")
    header = (
        f"{'model':<20} {'regs':>4} {'planned':>7} {'minimum':>7} {'ms @9600':>8}"
        f" {'ms @9600 min':>12} {'meters/bus @5s':>14} {'default baud':>12} {'ms':>6}"
    )
    print(header)
    for model in MODELS.values():
        plan = plan_reads(model)
        best = plan_reads(model, max_gap=0xFFFF)
        registers = sum(spec.count for spec in model.registers)
        bus_s = rtu_bus_time_s(plan, baudrate=9600)
        best_s = rtu_bus_time_s(best, baudrate=9600)
        baud = model.serial.baudrate
        default_s = rtu_bus_time_s(plan, baudrate=baud)
        print(
            f"{model.name:<20} {registers:>4} {len(plan):>7} {minimum_requests(model):>7}"
            f" {bus_s * 1e3:>8.1f} {best_s * 1e3:>12.1f} {int(5 / bus_s):>14}"
            f" {baud:>12} {default_s * 1e3:>6.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=8)
    parser.add_argument("--units", type=int, default=125)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--dead", type=int, default=0)
    parser.add_argument("--model", default="prepaid-v1", choices=sorted(MODELS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    ours, theirs = multiprocessing.Pipe()
    simulator = multiprocessing.Process(
        target=_simulator, args=(args.sockets, args.units, args.model, theirs), daemon=True
    )
    simulator.start()
    try:
        ports = ours.recv()
        asyncio.run(_poll(args, ports))
        ours.send("stop")
        print(f"simulator CPU {ours.recv():.2f} s (whole run, incl. start-up)")
    finally:
        simulator.join(timeout=10)
        if simulator.is_alive():
            simulator.terminate()
    _models_table()


if __name__ == "__main__":
    main()
