"""`prepaid-gateway keys create` and `prepaid-gateway api serve`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.auth import Role, create_key
from gateway.settings import Settings
from gateway.storage.db import UnitOfWork, make_engine

keys_app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)
api_app = typer.Typer(help="The billing HTTP API.", no_args_is_help=True)
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="Default: settings.")]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it once."""
    engine = make_engine(database_url or Settings().database_url)
    with UnitOfWork(engine) as uow:
        key = create_key(uow, name=name, role=role, now=datetime.now(UTC))
        uow.commit()
    typer.echo(key)


@api_app.command("serve")
def api_serve(
    database_url: DatabaseUrl = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Gateway YAML: its database and credit-control policy (top-ups "
                     "then repay emergency credit and debt and queue reconnection)."),
    ] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:  # fmt: skip
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn  # noqa: PLC0415

    from api.main import create_app  # noqa: PLC0415
    from gateway.runtime.config import load_config  # noqa: PLC0415
    from gateway.runtime.policy import control_policy  # noqa: PLC0415

    policy, url = None, database_url or Settings().database_url
    if config is not None:
        loaded = load_config(config)
        policy, url = control_policy(loaded), database_url or loaded.database.url
    uvicorn.run(create_app(make_engine(url), policy=policy), host=host, port=port)
