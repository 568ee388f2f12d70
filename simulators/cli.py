"""``prepaid-gateway simulate``: virtual meters over Modbus TCP, RTU (port or pty) and MQTT.

Each server prints how to reach it, the ``commission`` command to test it, and the
``simulate fault`` command that breaks it while it runs (through a control file).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from simulators.scenario import FAULT_KINDS, ScenarioError
from simulators.serve import (
    Where,
    meter_settings,
    pty_pair,
    run_fleet,
    say,
    serve_modbus,
)

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
    settings = meter_settings(
        model=model,
        units=unit,
        faults=fault,
        power_w=power_w,
        voltage_v=voltage_v,
        balance=balance,
    )
    where = Where("tcp", host=host, port=port)
    asyncio.run(serve_modbus(settings, where, control_file, acceleration, duration_s))


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
    settings = meter_settings(
        model=model,
        units=unit,
        faults=fault,
        power_w=power_w,
        voltage_v=voltage_v,
        balance=balance,
    )
    with pty_pair() if pty else contextlib.nullcontext((device or "", "")) as (server, client):
        where = Where("rtu", device=server, client=client, baud=baud, parity=parity)
        asyncio.run(serve_modbus(settings, where, control_file, acceleration, duration_s))


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
    say(f"{control}: faults {'cleared' if clear else ', '.join(fault or [])}")


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
        say(f"{scenario}: invalid scenario: {exc}")
        raise typer.Exit(1) from exc
    asyncio.run(run_fleet(loaded, manifest, duration_s))


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
    say(f"MQTT meter {meter_id} publishing every {interval_s} s to {host}:{port} (Ctrl-C stops)")
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
    say(f"concentrator {concentrator_id}: {meters} meters every {interval_s} s to {host}:{port}")
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
