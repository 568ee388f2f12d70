"""Helpers for the deployment tests: the repository root, the CLI parser, the compose model."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from gateway.cli import app

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = "/etc/prepaid-gateway/"  # where docker-compose.yml mounts ./deploy
ENV_PREFIX = "PREPAID_GATEWAY_"


def host_path(argument: str) -> str:
    """A container path under the mounted config folder, as a path in this repository."""
    if argument.startswith(CONFIG_DIR):
        return str(ROOT / "deploy" / argument.removeprefix(CONFIG_DIR))
    return argument


def parse_cli(argv: Sequence[str]) -> tuple[Any, Any]:
    """Parse `prepaid-gateway ...` arguments as the real CLI does, without running anything:
    the (command, context) reached. Unknown commands or options and missing required
    arguments raise the CLI's usage errors. (Typer vendors click: groups are duck-typed.)
    """
    assert argv[0] == "prepaid-gateway", argv
    command: Any = typer.main.get_command(app)
    args = [host_path(a) for a in argv[1:]]
    context = command.make_context("prepaid-gateway", args)
    while hasattr(command, "resolve_command"):
        rest = [*context._protected_args, *context.args]
        name, sub, rest = command.resolve_command(context, rest)
        assert sub is not None
        assert name is not None
        command, context = sub, sub.make_context(name, rest, parent=context)
    return command, context


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """`docker-compose config` of docker-compose.yml: the file as Compose itself reads it."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed: run `bash scripts/install-test-tools.sh` "
            "(Debian's docker-compose package validates the compose file; no Docker engine needed)"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.pop("POSTGRES_PASSWORD", None)  # the documented defaults, not this shell's values
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    document = yaml.safe_load(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result
