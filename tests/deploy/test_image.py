"""The Dockerfile (parsed lightly), its entry point (run for real on SQLite) and the compose
stack's webhook receiver (over a real socket). No Docker engine is needed or used."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine

from gateway.runtime.app import check_schema
from gateway.runtime.config import load_config
from gateway.runtime.http import make_http_app
from gateway.runtime.metrics import GatewayMetrics
from gateway.runtime.webhooks import SIGNATURE_HEADER, signature_header
from gateway.storage.db import make_engine
from tests.deploy.conftest import ENV_PREFIX, ROOT, parse_cli

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _one(instruction: str) -> str:
    found = [args for name, args in _instructions() if name == instruction]
    assert len(found) == 1, f"{instruction}: {found}"
    return found[0]


def _copies() -> dict[str, str]:
    """Destination -> source of each COPY from the build context."""
    pairs = [a.split() for n, a in _instructions() if n == "COPY" and not a.startswith("--from")]
    return {parts[-1]: parts[0] for parts in pairs}


def test_base_image_user_and_copies() -> None:
    assert {a for n, a in _instructions() if n == "FROM"} == {
        "python:3.11-slim AS build",
        "python:3.11-slim",
    }
    assert _one("USER") not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for source in _copies().values():
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") not in ignored, f"{source} is excluded by .dockerignore"


def test_cmd_runs_the_gateway_on_the_config_the_image_carries() -> None:
    cmd = json.loads(_one("CMD"))
    command, _context = parse_cli(cmd)
    assert command.name == "run"
    config = cmd[cmd.index("--config") + 1]
    assert _copies()[config] == "deploy/gateway.yaml"
    entrypoint = json.loads(_one("ENTRYPOINT"))
    assert any(dest.endswith(f"/bin/{entrypoint[0]}") for dest in _copies()), entrypoint
    assert "deploy/entrypoint.sh" in _copies().values()


def test_healthcheck_asks_the_gateway_http_server_for_health(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = re.search(r"http://[^'\"]+", _one("HEALTHCHECK"))
    assert found is not None
    url = urlsplit(found.group(0))
    assert url.hostname == "127.0.0.1"
    monkeypatch.setenv("PREPAID_GATEWAY_WEBHOOK_SECRET", "any")  # the image's config needs one
    assert load_config(ROOT / "deploy" / "gateway.yaml").http.port == url.port
    app = make_http_app(GatewayMetrics(), create_engine("sqlite://"), None)
    assert url.path in {route.path for route in app.routes}  # type: ignore[attr-defined]
    assert url.path == "/health"


def _run_entrypoint(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    clean["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{clean['PATH']}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *argv],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_entrypoint_migrates_the_configured_database_then_runs_the_command(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gateway.db"
    config = tmp_path / "gateway.yaml"
    config.write_text(f"database:\n  url: sqlite:///{database}\n", encoding="utf-8")
    result = _run_entrypoint(
        tmp_path, "prepaid-gateway", "run", "--help", PREPAID_GATEWAY_CONFIG=str(config)
    )
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout  # the command ran after the migration
    check_schema(make_engine(f"sqlite:///{database}"))  # raises unless at head

    skipped = tmp_path / "skipped.db"
    result = _run_entrypoint(
        tmp_path,
        "prepaid-gateway",
        "run",
        "--help",
        PREPAID_GATEWAY_MIGRATE="0",
        PREPAID_GATEWAY_DATABASE_URL=f"sqlite:///{skipped}",
    )
    assert result.returncode == 0, result.stderr
    assert not skipped.exists()


def test_entrypoint_stops_on_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("mqtt:\n  hots: mosquitto\n", encoding="utf-8")
    result = _run_entrypoint(
        tmp_path, "prepaid-gateway", "run", "--config", str(config),
        PREPAID_GATEWAY_CONFIG=str(config),
    )  # fmt: skip
    assert result.returncode != 0
    assert "mqtt.hots: unknown key" in result.stderr


# -- the webhook receiver of docker-compose.yml --------------------------------------------
@pytest.fixture
def receiver() -> Iterator[str]:
    spec = importlib.util.spec_from_file_location(
        "webhook_receiver", ROOT / "deploy" / "webhook_receiver.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.make_server("127.0.0.1", 0, ["new-secret", "old-secret"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, secret: str) -> int:
    header = signature_header(secret, int(time.time()), body)
    request = urllib.request.Request(
        f"{url}/hooks/prepaid", data=body, headers={SIGNATURE_HEADER: header}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_receiver_accepts_either_secret_and_refuses_a_bad_signature(receiver: str) -> None:
    body = b'{"kind": "low_balance"}'
    assert _post(receiver, body, "new-secret") == 204
    assert _post(receiver, body, "old-secret") == 204  # during a rotation
    assert _post(receiver, body, "guessed") == 401
    with urllib.request.urlopen(f"{receiver}/health", timeout=5) as response:
        assert response.status == 200
