"""`prepaid-gateway demo` (the live story): its options and the process around it.

Imports only typer at module level, so `prepaid-gateway --help` stays light. Exit codes: 0
after Ctrl-C, SIGTERM or `--duration-s`; 1 when the demo cannot start or a part of it fails;
2 for a `--data-dir` that already holds a demo database.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

Port = Annotated[int, typer.Option(help="Port of the billing API and dashboard (0: any free).")]
Speed = Annotated[
    int,
    typer.Option(min=60, max=7200, help="Meter time per real second, in seconds (1800: a day in"
                 " 48 s)."),
]  # fmt: skip
DurationS = Annotated[
    float | None, typer.Option("--duration-s", min=1, help="Stop after this many seconds.")
]
Broker = Annotated[
    str,
    typer.Option(help="MQTT broker: auto (Mosquitto if installed, else embedded), mosquitto,"
                 " embedded, or HOST:PORT of a running one."),
]  # fmt: skip
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Keep the SQLite database here (default: a temporary folder, removed at exit)."
    ),
]


def live_demo(
    *, port: int, speed: int, duration_s: float | None, broker: str, data_dir: Path | None
) -> None:
    from rich.console import Console  # noqa: PLC0415 - keep `--help` light

    from gateway.runtime.logs import setup_logging  # noqa: PLC0415
    from gateway.showcase.run import Options, run_showcase  # noqa: PLC0415

    console = Console(highlight=False)
    setup_logging("WARNING", json_lines=False)
    if data_dir is not None and (data_dir / "demo.db").exists():
        console.print(f"{data_dir / 'demo.db'} exists: give an empty --data-dir")
        raise typer.Exit(2)
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="prepaid-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    options = Options(port=port, speed=speed, duration_s=duration_s, broker=broker)
    try:
        asyncio.run(run_showcase(options, workdir.resolve(), console))
    except (RuntimeError, OSError) as error:
        console.print(f"[red]the demo stopped[/red]: {error}")
        raise typer.Exit(1) from error
    finally:
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if data_dir is None:
        console.print("  the temporary database is removed (keep it with --data-dir DIR)")
    else:
        console.print(f"  database kept: {workdir / 'demo.db'}")
