"""The `prepaid-gateway` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from sqlalchemy import Engine

from api.cli import api_app, keys_app
from gateway.commission.cli import commission_app
from gateway.core.errors import TariffError
from gateway.core.tariff_parse import parse_tariff_version
from gateway.runtime.cli import run
from gateway.showcase import cli as showcase
from simulators.cli import simulate_app

app = typer.Typer(
    help="Prepaid meter gateway: meters in, exact deductions out.", no_args_is_help=True
)
tariff_app = typer.Typer(help="Tariff files.", no_args_is_help=True)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
ledger_app = typer.Typer(help="The prepaid ledger.", no_args_is_help=True)
app.add_typer(tariff_app, name="tariff")
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(simulate_app, name="simulate")
app.add_typer(commission_app, name="commission")
app.command("run")(run)
app.add_typer(keys_app, name="keys")
app.add_typer(api_app, name="api")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: $PREPAID_GATEWAY_DATABASE_URL or SQLite file."),
]


def _engine(url: str | None) -> Engine:
    from gateway.settings import Settings  # noqa: PLC0415
    from gateway.storage.db import make_engine  # noqa: PLC0415

    return make_engine(url or Settings().database_url)


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Argument(help="Alembic revision.")] = "head",
) -> None:
    """Create or migrate the schema (Alembic), in one transaction."""
    from gateway.storage.migrate import upgrade  # noqa: PLC0415

    engine = _engine(database_url)
    upgrade(engine, revision)
    typer.echo(f"database {engine.url.render_as_string()} is at revision {revision}")


@ledger_app.command("verify")
def ledger_verify(
    database_url: DatabaseUrl = None,
    account: Annotated[list[str] | None, typer.Option(help="Only these accounts.")] = None,
) -> None:
    """Check balances, sequences, the hash chain and every deduction; exit 1 on a violation."""
    from gateway.ledger.verify import verify_ledger  # noqa: PLC0415
    from gateway.storage.db import UnitOfWork  # noqa: PLC0415

    with UnitOfWork(_engine(database_url)) as uow:
        report = verify_ledger(uow, account)
    for violation in report.violations:
        typer.echo(f"VIOLATION {violation}", err=True)
    verdict = f"{len(report.violations)} violation(s)" if report.violations else "OK"
    typer.echo(
        f"{report.accounts} accounts, {report.entries} entries,"
        f" {report.deductions_recomputed} deductions recomputed: {verdict}"
    )
    if report.violations:
        raise typer.Exit(1)


@app.command()
def demo(
    *,
    rating: Annotated[
        bool, typer.Option("--rating", help="The offline rating demo: a month priced, printed.")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Rating demo with every ledger entry (implies --rating).")
    ] = False,
    port: showcase.Port = 8000,
    speed: showcase.Speed = 1800,
    duration_s: showcase.DurationS = None,
    broker: showcase.Broker = "auto",
    data_dir: showcase.DataDir = None,
) -> None:
    """The gateway live: simulated meters, deductions, alerts, a disconnect, a top-up through
    the API and a reconnect, in under a minute (docs/demo.md). Ctrl-C stops it."""
    if not (rating or show_all):
        showcase.live_demo(
            port=port, speed=speed, duration_s=duration_s, broker=broker, data_dir=data_dir
        )
        return
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
