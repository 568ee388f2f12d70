"""`prepaid-gateway run --config FILE`: the gateway as a long-running process.

Register on the main app with `app.command("run")(run)` (gateway/cli.py).
Exit codes: 0 after a graceful stop (SIGTERM or SIGINT), 2 for a configuration error,
1 when the gateway cannot start (schema not at head, port taken) or a part of it crashed;
a second signal during the shutdown exits at once with 128 + the signal number.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.runtime.config import ConfigError, load_config
from gateway.runtime.logs import setup_logging

if TYPE_CHECKING:
    from gateway.runtime.config import GatewayConfig

logger = logging.getLogger("gateway.runtime")
EXIT_CONFIG = 2
EXIT_FAILED = 1


def run(
    config: Annotated[
        Path,
        typer.Option(
            "--config", help="Gateway YAML (docs/configuration.md); PREPAID_GATEWAY_* overrides."
        ),
    ],
) -> None:
    """Run the gateway: meters in (MQTT, Modbus), ledger, alerts and commands out."""
    try:
        settings = load_config(config)
    except ConfigError as error:
        for key, reason in error.problems:
            typer.echo(f"config error: {key}: {reason}", err=True)
        raise typer.Exit(EXIT_CONFIG) from error
    setup_logging(settings.logging.level, json_lines=settings.logging.json_lines)
    from gateway.runtime.app import SchemaNotAtHeadError  # noqa: PLC0415

    try:
        asyncio.run(_run_until_signalled(settings))
    except SchemaNotAtHeadError as error:
        typer.echo(f"refusing to start: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from error
    except OSError as error:  # e.g. the HTTP port is taken
        typer.echo(f"cannot start: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from error
    except RuntimeError as error:
        logger.exception("gateway failed", extra={"event": "gateway_failed"})
        raise typer.Exit(EXIT_FAILED) from error


async def _run_until_signalled(settings: GatewayConfig) -> None:
    from gateway.runtime.app import GatewayApp  # noqa: PLC0415 - keep `--help` light

    app = GatewayApp(settings)  # in the loop: the Modbus clients bind to it
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logger.warning("second signal: exiting now", extra={"event": "forced_exit"})
            os._exit(128 + signum)
        logger.info(
            "%s received: stopping gracefully (again to force)",
            signal.Signals(signum).name,
            extra={"event": "signal"},
        )
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    await app.run(stop)


if __name__ == "__main__":  # python -m gateway.runtime.cli --config FILE (before registration)
    typer.run(run)
