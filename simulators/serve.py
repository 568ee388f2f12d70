"""Serving simulated meters for the `simulate` commands: Modbus TCP/RTU servers, fleets, ptys."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

if TYPE_CHECKING:
    from drivers.registers import MeterModel

from simulators.scenario import parse_fault


def say(text: str) -> None:
    """What a technician reads on the terminal."""
    typer.echo(text)


# -- running Modbus servers ----------------------------------------------------------------
@dataclass(frozen=True)
class MeterSettings:
    model: MeterModel
    units: list[int]
    faults: list[str]
    power_w: Decimal
    voltage_v: Decimal
    balance: Decimal


def meter_settings(
    *,
    model: str,
    units: list[int] | None,
    faults: list[str] | None,
    power_w: float,
    voltage_v: float,
    balance: float | None,
) -> MeterSettings:
    from drivers.models import MODELS  # noqa: PLC0415

    if model not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise typer.BadParameter(f"unknown model {model!r} (known: {known})", param_hint="--model")
    for text in faults or []:
        try:
            parse_fault(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fault") from exc
    return MeterSettings(
        MODELS[model],
        units or [1],
        faults or [],
        Decimal(str(power_w)),
        Decimal(str(voltage_v)),
        Decimal("100.00") if balance is None else Decimal(str(balance)),
    )


@dataclass(frozen=True)
class Where:
    transport: Literal["tcp", "rtu"]
    host: str = "127.0.0.1"
    port: int = 0
    device: str = ""
    client: str = ""
    baud: int | None = None
    parity: str | None = None


async def serve_modbus(
    settings: MeterSettings,
    where: Where,
    control_file: Path | None,
    acceleration: float,
    duration_s: float | None,
) -> None:
    from simulators.fleet import make_unit, watch_control  # noqa: PLC0415
    from simulators.meter import AcceleratedClock  # noqa: PLC0415
    from simulators.modbus_server import MeterBusContext, serve_rtu, serve_tcp  # noqa: PLC0415
    from simulators.profiles import ConstantLoad  # noqa: PLC0415

    model = settings.model
    clock = AcceleratedClock(datetime.now(UTC), factor=acceleration)
    units = {}
    for unit_id in settings.units:
        unit = make_unit(
            model,
            clock,
            profile=ConstantLoad(settings.power_w),
            serial_number=unit_id,
            balance=settings.balance,
            voltage_v=settings.voltage_v,
        )
        for text in settings.faults:
            parse_fault(text).schedule(unit.faults, clock.now())
        units[unit_id] = unit
    context = MeterBusContext(units)
    owns_control = control_file is None
    control = control_file or Path(tempfile.gettempdir()) / f"prepaid-sim-{os.getpid()}.json"
    ids = ",".join(map(str, settings.units))
    first = settings.units[0]
    if where.transport == "tcp":
        server = await serve_tcp(context, host=where.host, port=where.port)
        say(f"simulating {model.name} unit(s) {ids} on Modbus TCP {where.host}:{server.port}")
        how = f"commission tcp --host {where.host} --port {server.port}"
    else:
        parity = (where.parity or model.serial.parity).upper()
        line = replace(
            model.serial,
            baudrate=where.baud or model.serial.baudrate,
            parity="E" if parity == "E" else "O" if parity == "O" else "N",
        )
        server = await serve_rtu(context, port=where.device, serial=line)
        framing = f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"
        say(f"simulating {model.name} unit(s) {ids} on Modbus RTU {framing}")
        say(f"  simulator end: {where.device}")
        if where.client:
            say(f"  client device: {where.client}")
        how = (
            f"commission rtu --device {where.client or '<the other end of the line>'}"
            f" --baud {line.baudrate} --parity {line.parity}"
        )
    say(f"commission it: prepaid-gateway {how} --unit {first} --model {model.name}")
    say(f"break it:      prepaid-gateway simulate fault --control {control} offline")
    say(f"heal it:       prepaid-gateway simulate fault --control {control} --clear")
    if settings.faults:
        say(f"faults from the start: {', '.join(settings.faults)}")
    say("stop:          Ctrl-C")
    watcher = asyncio.create_task(watch_control(control, units, report=say))
    try:
        await until_stopped(duration_s)
    finally:
        watcher.cancel()
        await server.stop()
        if owns_control:
            control.unlink(missing_ok=True)


async def until_stopped(duration_s: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration_s)


async def run_fleet(scenario: object, manifest: Path | None, duration_s: float | None) -> None:
    from simulators.fleet import Fleet, cpu_s, rss_mb  # noqa: PLC0415
    from simulators.scenario import Scenario  # noqa: PLC0415

    assert isinstance(scenario, Scenario)
    fleet = await Fleet.start(scenario)
    facts = fleet.manifest()
    if manifest is not None:
        manifest.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    say(
        f"fleet {scenario.name}: {scenario.meter_count} meters on {len(fleet.sockets)} Modbus"
        f" TCP socket(s) and {len(fleet.concentrators)} MQTT concentrator(s);"
        f" started in {fleet.startup_s:.2f} s, RSS {facts['rss_mb']} MB"
    )
    for served in fleet.sockets[:10]:
        at = f"{served.host}:{served.port}"
        say(f"  {served.group}: {served.model} units 1-{served.units} at {at}")
    if len(fleet.sockets) > 10:
        say(f"  ... and {len(fleet.sockets) - 10} more sockets (all in --manifest)")
    began, cpu_began = time.monotonic(), cpu_s()
    try:
        await until_stopped(duration_s)
    finally:
        wall = time.monotonic() - began
        say(
            f"ran {wall:.1f} s ({wall * scenario.acceleration:.0f} s simulated):"
            f" CPU {cpu_s() - cpu_began:.2f} s, RSS {rss_mb():.1f} MB"
        )
        await fleet.stop()


@contextlib.contextmanager
def pty_pair() -> Iterator[tuple[str, str]]:
    """Two linked ptys from socat: (simulator end, client end)."""
    socat = shutil.which("socat")
    if socat is None:
        say("socat is not installed: run `bash scripts/install-test-tools.sh` or apt install socat")
        raise typer.Exit(2)
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    names: list[str] = []
    deadline = time.monotonic() + 5
    while len(names) < 2 and time.monotonic() < deadline:
        if match := re.search(r"PTY is (\S+)", process.stderr.readline()):
            names.append(match.group(1))
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
    try:
        if len(names) < 2:
            say("socat did not create a pty pair")
            raise typer.Exit(2)
        yield names[0], names[1]
    finally:
        process.terminate()
        process.wait(timeout=5)
