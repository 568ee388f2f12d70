"""``prepaid-gateway commission tcp|rtu``: is this meter wired, addressed and mapped right?

Exit status: 0 when every check passed (warnings allowed), 1 when one failed, 2 for a
bad command line. The JSON report is written either way.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from drivers.registers import MeterModel
    from gateway.commission.explain import Target
    from gateway.commission.runner import Options

commission_app = typer.Typer(
    help="Commission a meter: connectivity, identity, every register, sanity, relay, balance.",
    no_args_is_help=True,
)

ModelName = Annotated[str, typer.Option(help="Meter model, e.g. eastron-sdm120 (see docs).")]
Unit = Annotated[int | None, typer.Option(help="Unit id (Modbus address) [default: model's].")]
RelayTest = Annotated[
    bool, typer.Option(help="Open then close the relay with read-back (cuts supply briefly).")
]
BalanceTest = Annotated[
    str | None, typer.Option(help="Write this balance, read it back, restore the old one.")
]
ReportFile = Annotated[
    Path | None, typer.Option("--report", help="JSON report [default: commission-*.json].")
]
SettleS = Annotated[float, typer.Option(help="Seconds between the two energy reads.")]
TimeoutS = Annotated[float, typer.Option(help="Seconds to wait for each answer.")]
NominalV = Annotated[float, typer.Option(help="Nominal supply voltage (V).")]
NominalHz = Annotated[float, typer.Option(help="Nominal supply frequency (Hz).")]


@commission_app.command("tcp")
def commission_tcp(
    *,
    host: Annotated[str, typer.Option(help="Meter or TCP gateway address.")],
    model: ModelName,
    port: Annotated[int, typer.Option(help="TCP port.")] = 502,
    unit: Unit = None,
    relay_test: RelayTest = False,
    balance_test: BalanceTest = None,
    report: ReportFile = None,
    settle_s: SettleS = 2.0,
    timeout_s: TimeoutS = 1.0,
    nominal_voltage: NominalV = 230.0,
    nominal_frequency: NominalHz = 50.0,
) -> None:
    """Commission a Modbus TCP meter (or a meter behind a TCP-to-RS485 gateway)."""
    from gateway.commission.explain import Target  # noqa: PLC0415 - keep CLI start-up light

    meter_model = _model(model)
    target = Target("tcp", meter_model, unit or meter_model.unit_id, host=host, port=port)
    options = _options(
        relay_test=relay_test,
        balance_test=balance_test,
        settle_s=settle_s,
        timeout_s=timeout_s,
        nominal_voltage=nominal_voltage,
        nominal_frequency=nominal_frequency,
    )
    _run(target, options, report)


@commission_app.command("rtu")
def commission_rtu(
    *,
    device: Annotated[str, typer.Option(help="Serial port, e.g. /dev/ttyUSB0.")],
    model: ModelName,
    baud: Annotated[int | None, typer.Option(help="Baud rate [default: model's].")] = None,
    parity: Annotated[str | None, typer.Option(help="N, E or O [default: model's].")] = None,
    stopbits: Annotated[int | None, typer.Option(help="1 or 2 [default: model's].")] = None,
    unit: Unit = None,
    relay_test: RelayTest = False,
    balance_test: BalanceTest = None,
    report: ReportFile = None,
    settle_s: SettleS = 2.0,
    timeout_s: TimeoutS = 1.0,
    nominal_voltage: NominalV = 230.0,
    nominal_frequency: NominalHz = 50.0,
) -> None:
    """Commission a Modbus RTU meter on an RS-485 serial port."""
    from gateway.commission.explain import Target  # noqa: PLC0415

    meter_model = _model(model)
    line = meter_model.serial
    if parity is not None:
        if parity.upper() not in {"N", "E", "O"}:
            raise typer.BadParameter("N, E or O", param_hint="--parity")
        line = replace(line, parity=_parity(parity.upper()))
    if baud is not None:
        line = replace(line, baudrate=baud)
    if stopbits is not None:
        line = replace(line, stopbits=stopbits)
    target = Target("rtu", meter_model, unit or meter_model.unit_id, device=device, line=line)
    options = _options(
        relay_test=relay_test,
        balance_test=balance_test,
        settle_s=settle_s,
        timeout_s=timeout_s,
        nominal_voltage=nominal_voltage,
        nominal_frequency=nominal_frequency,
    )
    _run(target, options, report)


def _parity(value: str) -> Literal["N", "E", "O"]:
    return "E" if value == "E" else "O" if value == "O" else "N"


def _model(name: str) -> MeterModel:
    from drivers.models import MODELS  # noqa: PLC0415

    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise typer.BadParameter(f"unknown model {name!r} (known: {known})", param_hint="--model")
    return MODELS[name]


def _options(
    *,
    relay_test: bool,
    balance_test: str | None,
    settle_s: float,
    timeout_s: float,
    nominal_voltage: float,
    nominal_frequency: float,
) -> Options:
    from gateway.commission.checks import Nominal  # noqa: PLC0415
    from gateway.commission.runner import Options  # noqa: PLC0415

    amount = None
    if balance_test is not None:
        try:
            amount = Decimal(balance_test)
        except InvalidOperation as exc:
            raise typer.BadParameter("a number, e.g. 50.00", param_hint="--balance-test") from exc
    nominal = Nominal(
        voltage_v=Decimal(str(nominal_voltage)), frequency_hz=Decimal(str(nominal_frequency))
    )
    return Options(
        relay_test=relay_test,
        balance_test=amount,
        settle_s=settle_s,
        timeout_s=timeout_s,
        nominal=nominal,
    )


def _run(target: Target, options: Options, report: Path | None) -> None:
    from rich.console import Console  # noqa: PLC0415

    from gateway.commission.report import ConsoleProgress, print_summary, write_json  # noqa: PLC0415
    from gateway.commission.runner import commission  # noqa: PLC0415

    console = Console()
    console.print(f"Commissioning {target.where()} as {target.model.name}")
    progress = ConsoleProgress(console)
    try:
        outcome = asyncio.run(commission(target, options, progress))
    finally:
        progress.close()
    print_summary(outcome, console)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = report or Path(f"commission-unit{target.unit_id}-{stamp}.json")
    write_json(outcome, path)
    console.print(f"report: {path}")
    if not outcome.passed:
        raise typer.Exit(1)
