"""The `prepaid-gateway` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from gateway.core.errors import TariffError
from gateway.core.tariff_parse import parse_tariff_version

app = typer.Typer(
    help="Prepaid meter gateway: meters in, exact deductions out.", no_args_is_help=True
)
tariff_app = typer.Typer(help="Tariff files.", no_args_is_help=True)
app.add_typer(tariff_app, name="tariff")


@app.command()
def demo(
    show_all: Annotated[bool, typer.Option("--all", help="Print every ledger entry.")] = False,
) -> None:
    """Rate a sample month of 15-minute readings and print the transparent ledger."""
    from gateway.demo import run_demo  # noqa: PLC0415 - keep CLI start-up light
    from gateway.ledger_table import print_demo  # noqa: PLC0415

    tariff, entries = run_demo()
    print_demo(tariff, entries, show_all=show_all, console=Console(width=200))


@tariff_app.command("check")
def tariff_check(path: Annotated[Path, typer.Argument(help="A tariff YAML or JSON file.")]) -> None:
    """Validate a tariff file; on error, name the field and exit 1."""
    try:
        version = parse_tariff_version(yaml.safe_load(path.read_text("utf-8")))
    except TariffError as error:
        typer.echo(f"{path}: invalid tariff: {error.field}: {error.reason}", err=True)
        raise typer.Exit(1) from error
    typer.echo(
        f"{path}: {version.label} valid: {len(version.tier_bounds_kwh) + 1} tier(s),"
        f" bands {', '.join(version.bands)}, in force from {version.effective_from.isoformat()}"
    )
