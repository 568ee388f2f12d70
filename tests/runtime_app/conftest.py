"""Fixtures: the session's Mosquitto, a simulated Modbus TCP meter process, a migrated ledger,
and the gateway itself as a subprocess (`python -m gateway.runtime.cli --config FILE`)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.mqtt.broker import free_port, port_open
from tests.mqtt.conftest import broker  # the session's own Mosquitto

__all__ = ["broker"]


def wait_until(condition: Any, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            msg = f"{what} not met within {timeout_s} s"
            raise AssertionError(msg)
        time.sleep(0.05)


@pytest.fixture
def modbus_meter() -> Iterator[int]:
    """A simulated prepaid-v1 meter (unit 1, 3.6 kW, 10x fast: 36 kW, under the 100 kW spike
    limit) on Modbus TCP; yields the port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "modbus-tcp", "--model", "prepaid-v1",
         "--port", str(port), "--unit", "1", "--power-w", "3600", "--acceleration", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: port_open(port), 15, "the Modbus simulator listening")
        yield port
    finally:
        process.terminate()
        process.wait(10)


class GatewayProcess:
    """`prepaid-gateway run --config` in its own process; stderr kept in a file."""

    def __init__(self, config: Path, http_port: int) -> None:
        self.config = config
        self.http_port = http_port
        self.log = config.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.runtime.cli", "--config", str(self.config)],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.http_port}{path}", timeout=5)

    def wait_healthy(self, timeout_s: float = 20.0, path: str = "/health") -> None:
        """Until `path` answers 200 ("/ready": the database answers, MQTT is subscribed)."""

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                msg = f"gateway exited with {self.process.returncode}:\n{self.output()}"
                raise AssertionError(msg)
            try:
                return self.get(path).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout_s, f"gateway {path}")

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def make(config: dict[str, Any]) -> GatewayProcess:
        path = tmp_path / f"gateway-{len(started)}.yaml"
        path.write_text(yaml.safe_dump(config), "utf-8")
        process = GatewayProcess(path, config["http"]["port"])
        started.append(process)
        return process

    yield make
    for process in started:
        process.kill()
