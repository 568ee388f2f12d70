"""``prepaid-gateway simulate``: virtual meters over Modbus TCP, RTU (port or pty) and MQTT.

Each server prints how to reach it, the ``commission`` command to test it, and the
``simulate fault`` command that breaks it while it runs (through a control file).
"""

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
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from drivers.registers import MeterModel

from simulators.scenario import FAULT_KINDS, ScenarioError, parse_fault

simulate_app = typer.Typer(
    help="Simulated meters for rehearsals and tests (Modbus TCP/RTU, MQTT, fleets).",
    no_args_is_help=True,
)

FAULT_HELP = (
    "KIND[:ARG][@START][+DURATION], repeatable; e.g. offline@60s+30s, exception:2, crc, stuck,"
    f" slow:2, spike:100. Kinds: {', '.join(FAULT_KINDS)}."
)
Model = Annotated[str, typer.Option(help="Meter model, e.g. eastron-sdm120, prepaid-v1.")]
Units = Annotated[list[int] | None, typer.Option("--unit", help="Unit id(s) served [default: 1].")]
Faults = Annotated[list[str] | None, typer.Option("--fault", help=FAULT_HELP)]
ControlFile = Annotated[
    Path | None,
    typer.Option(help="Control file for `simulate fault` [default: a temp file, printed]."),
]
PowerW = Annotated[float, typer.Option(help="Constant load drawn (W).")]
VoltageV = Annotated[float, typer.Option(help="Voltage the meter measures (V).")]
Acceleration = Annotated[float, typer.Option(help="Simulated seconds per real second.")]
Balance = Annotated[float | None, typer.Option(help="Meter-side balance (local-mode maps).")]
Seconds = Annotated[float | None, typer.Option(help="Stop after this many seconds.")]


def _say(text: str) -> None:
    typer.echo(text)


@simulate_app.command("modbus-tcp")
def modbus_tcp(
    *,
    model: Model = "eastron-sdm120",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 5020,
    unit: Units = None,
    fault: Faults = None,
    control_file: ControlFile = None,
    power_w: PowerW = 1000.0,
    voltage_v: VoltageV = 230.0,
    balance: Balance = None,
    acceleration: Acceleration = 1.0,
    duration_s: Seconds = None,
) -> None:
    """Serve simulated meter(s) on Modbus TCP."""
    settings = _settings(
        model=model,
        units=unit,
        faults=fault,
        power_w=power_w,
        voltage_v=voltage_v,
        balance=balance,
    )
    where = _Where("tcp", host=host, port=port)
    asyncio.run(_serve_modbus(settings, where, control_file, acceleration, duration_s))


@simulate_app.command("modbus-rtu")
def modbus_rtu(
    *,
    model: Model = "eastron-sdm120",
    device: Annotated[str | None, typer.Option(help="Serial port, e.g. /dev/ttyUSB0.")] = None,
    pty: Annotated[bool, typer.Option(help="Create a socat pty pair; print the client end.")] = (
        False
    ),
    baud: Annotated[int | None, typer.Option(help="[default: the model's]")] = None,
    parity: Annotated[str | None, typer.Option(help="N, E or O [default: the model's]")] = None,
    unit: Units = None,
    fault: Faults = None,
    control_file: ControlFile = None,
    power_w: PowerW = 1000.0,
    voltage_v: VoltageV = 230.0,
    balance: Balance = None,
    acceleration: Acceleration = 1.0,
    duration_s: Seconds = None,
) -> None:
    """Serve simulated meter(s) on Modbus RTU: a serial port, or a pty pair with --pty."""
    if (device is None) == (not pty):
        raise typer.BadParameter("give exactly one of --device PATH or --pty")
    if parity is not None and parity.upper() not in {"N", "E", "O"}:
        raise typer.BadParameter("N, E or O", param_hint="--parity")
    settings = _settings(
        model=model,
        units=unit,
        faults=fault,
        power_w=power_w,
        voltage_v=voltage_v,
        balance=balance,
    )
    with _pty_pair() if pty else contextlib.nullcontext((device or "", "")) as (server, client):
        where = _Where("rtu", device=server, client=client, baud=baud, parity=parity)
        asyncio.run(_serve_modbus(settings, where, control_file, acceleration, duration_s))


@simulate_app.command("fault")
def fault_command(
    control: Annotated[Path, typer.Option(help="The control file the simulator printed.")],
    fault: Annotated[list[str] | None, typer.Argument(help=FAULT_HELP)] = None,
    unit: Annotated[list[int] | None, typer.Option(help="Only these unit ids.")] = None,
    clear: Annotated[bool, typer.Option(help="Remove every fault (a healthy meter).")] = False,
) -> None:
    """Break (or heal) a running simulated meter: replaces its faults via the control file."""
    from simulators.fleet import write_control  # noqa: PLC0415

    if not fault and not clear:
        raise typer.BadParameter("give fault(s), e.g. `offline`, or --clear")
    try:
        write_control(control, [] if clear else (fault or []), unit or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FAULT") from exc
    _say(f"{control}: faults {'cleared' if clear else ', '.join(fault or [])}")


@simulate_app.command("fleet")
def fleet_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML (docs/commissioning.md).")],
    manifest: Annotated[Path | None, typer.Option(help="Write ports and figures here.")] = None,
    duration_s: Seconds = None,
) -> None:
    """Run a fleet scenario (e.g. 10,000 meters) in one process."""
    from simulators.scenario import load_scenario  # noqa: PLC0415

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        _say(f"{scenario}: invalid scenario: {exc}")
        raise typer.Exit(1) from exc
    asyncio.run(_run_fleet(loaded, manifest, duration_s))


@simulate_app.command("mqtt-meter")
def mqtt_meter(
    *,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    meter_id: Annotated[str, typer.Option(help="Meter id in the topics.")] = "M1",
    power_w: PowerW = 1000.0,
    interval_s: Annotated[float, typer.Option(help="Seconds between readings.")] = 5.0,
    acceleration: Annotated[int, typer.Option(help="Simulated seconds per second.")] = 1,
    fault: Annotated[
        str, typer.Option(help="none, not_utf8, not_json, negative_energy, naive_ts.")
    ] = "none",
    duration_s: Seconds = None,
) -> None:
    """Publish one simulated MQTT meter's readings; answer relay and balance commands."""
    from drivers.mqtt.transport import BrokerAddress  # noqa: PLC0415
    from simulators.mqtt_meter import AcceleratedClock, MeterFault, MeterState, MqttMeter  # noqa: PLC0415

    clock = AcceleratedClock(acceleration=acceleration)
    state = MeterState(meter_id=meter_id, power_w=Decimal(str(power_w)), started_at=clock())
    meter = MqttMeter(state, broker=BrokerAddress(host, port), clock=clock)
    meter.fault = MeterFault(fault)
    meter.connect()
    meter.run_every(interval_s)
    _say(f"MQTT meter {meter_id} publishing every {interval_s} s to {host}:{port} (Ctrl-C stops)")
    _block(duration_s)
    meter.close()


@simulate_app.command("mqtt-concentrator")
def mqtt_concentrator(
    *,
    meters: Annotated[int, typer.Option(help="Meters behind the concentrator.")] = 100,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    concentrator_id: Annotated[str, typer.Option(help="Concentrator id in the topic.")] = "C1",
    interval_s: Annotated[float, typer.Option(help="Seconds between batches.")] = 5.0,
    duration_s: Seconds = None,
) -> None:
    """Publish N meters' readings in batches, as a data concentrator does."""
    from drivers.mqtt.transport import BrokerAddress  # noqa: PLC0415
    from simulators.mqtt_concentrator import MqttConcentrator, make_meters  # noqa: PLC0415

    dcu = MqttConcentrator(
        concentrator_id,
        make_meters(meters, started_at=datetime.now(UTC)),
        broker=BrokerAddress(host, port),
    )
    dcu.connect()
    _say(f"concentrator {concentrator_id}: {meters} meters every {interval_s} s to {host}:{port}")
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while deadline is None or time.monotonic() < deadline:
            dcu.publish_tick()
            time.sleep(interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        dcu.close()


def _block(duration_s: float | None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(duration_s) if duration_s is not None else signal.pause()


# -- running Modbus servers ----------------------------------------------------------------
@dataclass(frozen=True)
class _MeterSettings:
    model: MeterModel
    units: list[int]
    faults: list[str]
    power_w: Decimal
    voltage_v: Decimal
    balance: Decimal


def _settings(
    *,
    model: str,
    units: list[int] | None,
    faults: list[str] | None,
    power_w: float,
    voltage_v: float,
    balance: float | None,
) -> _MeterSettings:
    from drivers.models import MODELS  # noqa: PLC0415

    if model not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise typer.BadParameter(f"unknown model {model!r} (known: {known})", param_hint="--model")
    for text in faults or []:
        try:
            parse_fault(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fault") from exc
    return _MeterSettings(
        MODELS[model],
        units or [1],
        faults or [],
        Decimal(str(power_w)),
        Decimal(str(voltage_v)),
        Decimal("100.00") if balance is None else Decimal(str(balance)),
    )


@dataclass(frozen=True)
class _Where:
    transport: Literal["tcp", "rtu"]
    host: str = "127.0.0.1"
    port: int = 0
    device: str = ""
    client: str = ""
    baud: int | None = None
    parity: str | None = None


async def _serve_modbus(
    settings: _MeterSettings,
    where: _Where,
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
        _say(f"simulating {model.name} unit(s) {ids} on Modbus TCP {where.host}:{server.port}")
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
        _say(f"simulating {model.name} unit(s) {ids} on Modbus RTU {framing}")
        _say(f"  simulator end: {where.device}")
        if where.client:
            _say(f"  client device: {where.client}")
        how = (
            f"commission rtu --device {where.client or '<the other end of the line>'}"
            f" --baud {line.baudrate} --parity {line.parity}"
        )
    _say(f"commission it: prepaid-gateway {how} --unit {first} --model {model.name}")
    _say(f"break it:      prepaid-gateway simulate fault --control {control} offline")
    _say(f"heal it:       prepaid-gateway simulate fault --control {control} --clear")
    if settings.faults:
        _say(f"faults from the start: {', '.join(settings.faults)}")
    _say("stop:          Ctrl-C")
    watcher = asyncio.create_task(watch_control(control, units, report=_say))
    try:
        await _until_stopped(duration_s)
    finally:
        watcher.cancel()
        await server.stop()
        if owns_control:
            control.unlink(missing_ok=True)


async def _until_stopped(duration_s: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration_s)


async def _run_fleet(scenario: object, manifest: Path | None, duration_s: float | None) -> None:
    from simulators.fleet import Fleet, cpu_s, rss_mb  # noqa: PLC0415
    from simulators.scenario import Scenario  # noqa: PLC0415

    assert isinstance(scenario, Scenario)
    fleet = await Fleet.start(scenario)
    facts = fleet.manifest()
    if manifest is not None:
        manifest.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    _say(
        f"fleet {scenario.name}: {scenario.meter_count} meters on {len(fleet.sockets)} Modbus"
        f" TCP socket(s) and {len(fleet.concentrators)} MQTT concentrator(s);"
        f" started in {fleet.startup_s:.2f} s, RSS {facts['rss_mb']} MB"
    )
    for served in fleet.sockets[:10]:
        at = f"{served.host}:{served.port}"
        _say(f"  {served.group}: {served.model} units 1-{served.units} at {at}")
    if len(fleet.sockets) > 10:
        _say(f"  ... and {len(fleet.sockets) - 10} more sockets (all in --manifest)")
    began, cpu_began = time.monotonic(), cpu_s()
    try:
        await _until_stopped(duration_s)
    finally:
        wall = time.monotonic() - began
        _say(
            f"ran {wall:.1f} s ({wall * scenario.acceleration:.0f} s simulated):"
            f" CPU {cpu_s() - cpu_began:.2f} s, RSS {rss_mb():.1f} MB"
        )
        await fleet.stop()


@contextlib.contextmanager
def _pty_pair() -> Iterator[tuple[str, str]]:
    """Two linked ptys from socat: (simulator end, client end)."""
    socat = shutil.which("socat")
    if socat is None:
        _say(
            "socat is not installed: run `bash scripts/install-test-tools.sh` or apt install socat"
        )
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
            _say("socat did not create a pty pair")
            raise typer.Exit(2)
        yield names[0], names[1]
    finally:
        process.terminate()
        process.wait(timeout=5)
