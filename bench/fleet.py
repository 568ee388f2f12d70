"""Fleet-mode bench (not a test): 10,000 simulated meters in one process.

    .venv/bin/python -m bench.fleet [--meters 10000] [--units-per-socket 200] \
        [--model prepaid-v1] [--acceleration 60] [--idle-s 10] [--polls 1]

Starts ``prepaid-gateway simulate fleet`` (a real subprocess, as a technician would) on a
generated scenario, then reports: start-up time and RSS (from the fleet's manifest); CPU
of the fleet process while idle, per second of wall time and per second of simulated
time; and CPU per meter read while this process reads every meter ``--polls`` times
through the Modbus driver (one link per socket, all sockets in parallel).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drivers.errors import DriverError
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.models import MODELS

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def read_all(manifest: dict[str, object], model_name: str) -> tuple[int, int, float]:
    model = MODELS[model_name]
    sockets = manifest["sockets"]
    assert isinstance(sockets, list)

    async def one_socket(entry: dict[str, object]) -> tuple[int, int]:
        link = ModbusLink.tcp(str(entry["host"]), int(str(entry["port"])))
        ok = failed = 0
        for unit_id in range(1, int(str(entry["units"])) + 1):
            driver = ModbusMeterDriver(
                meter_id=f"u{unit_id}", link=link, model=model, unit_id=unit_id
            )
            try:
                await driver.read()
                ok += 1
            except DriverError:
                failed += 1
        link.close()
        return ok, failed

    began = time.perf_counter()
    results = await asyncio.gather(*(one_socket(entry) for entry in sockets))
    return sum(r[0] for r in results), sum(r[1] for r in results), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--units-per-socket", type=int, default=200)
    parser.add_argument("--model", default="prepaid-v1")
    parser.add_argument("--acceleration", type=float, default=60.0)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--polls", type=int, default=1)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    scenario, manifest_path = workdir / "fleet.yaml", workdir / "manifest.json"
    scenario.write_text(
        f"name: bench\nacceleration: {args.acceleration}\ngroups:\n"
        f"  - {{model: {args.model}, count: {args.meters},"
        f" units_per_socket: {args.units_per_socket}, balance: 100.00}}\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "gateway", "simulate", "fleet", str(scenario)]
    launched = time.perf_counter()
    fleet = subprocess.Popen([*command, "--manifest", str(manifest_path)])
    try:
        deadline = time.monotonic() + 300
        while not manifest_path.exists() or not manifest_path.read_text():
            if fleet.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the fleet did not start")
            time.sleep(0.05)
        ready_s = time.perf_counter() - launched
        manifest = json.loads(manifest_path.read_text())
        cpu_start = process_cpu_s(fleet.pid)
        idle_began = time.monotonic()
        time.sleep(args.idle_s)
        idle_wall = time.monotonic() - idle_began
        idle_cpu = process_cpu_s(fleet.pid) - cpu_start
        print(f"meters:                 {manifest['meters']} ({args.model})")
        print(f"sockets:                {len(manifest['sockets'])} x {args.units_per_socket} units")
        print(f"start-up (in process):  {manifest['startup_s']} s")
        print(f"ready (incl. imports):  {ready_s:.2f} s")
        print(f"RSS after start-up:     {manifest['rss_mb']} MB")
        print(
            f"idle CPU:               {idle_cpu:.2f} s in {idle_wall:.1f} s wall"
            f" = {idle_cpu / idle_wall * 1000:.1f} ms per wall second"
            f" = {idle_cpu / (idle_wall * args.acceleration) * 1000:.3f} ms per simulated second"
        )
        for poll in range(1, args.polls + 1):
            cpu_before = process_cpu_s(fleet.pid)
            ok, failed, wall = asyncio.run(read_all(manifest, args.model))
            cpu = process_cpu_s(fleet.pid) - cpu_before
            print(
                f"poll {poll}: {ok} meters read ({failed} failed) in {wall:.1f} s;"
                f" fleet CPU {cpu:.2f} s = {cpu / max(ok, 1) * 1000:.3f} ms per meter read"
            )
        print(f"RSS after polling:      {process_rss_mb(fleet.pid):.1f} MB")
    finally:
        fleet.terminate()
        fleet.wait(timeout=30)


if __name__ == "__main__":
    main()
