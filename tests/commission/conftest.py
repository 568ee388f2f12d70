"""Simulators started the way a technician starts them: `prepaid-gateway simulate ...`."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.drivers import conftest as drivers_conftest

GATEWAY = [sys.executable, "-m", "gateway"]


class Simulator:
    """A `prepaid-gateway simulate` subprocess; its stdout is read line by line."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [*GATEWAY, "simulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.control = Path(self.wait_for(r"break it: .* --control (\S+) offline").group(1))

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout_s: float = 15.0) -> re.Match[str]:
        """The first new line matching ``pattern``; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"simulator never printed /{pattern}/; printed: {self.seen}")

    def banner_value(self, pattern: str) -> str:
        for line in self.seen:
            if match := re.search(pattern, line):
                return match.group(1)
        pytest.fail(f"no /{pattern}/ in {self.seen}")

    def set_faults(self, *faults: str) -> None:
        args = ["--clear"] if not faults else list(faults)
        result = CliRunner().invoke(
            app, ["simulate", "fault", "--control", str(self.control), *args]
        )
        assert result.exit_code == 0, result.output
        self.wait_for(r"faults now: ")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def start(*args: str) -> Simulator:
        sim = Simulator(list(args))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def needs_socat() -> None:
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed (scripts/install-test-tools.sh)")


def commission(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    """Run `prepaid-gateway commission ...`; (exit code, output with spaces normalised, report)."""
    report = tmp_path / f"report-{time.monotonic_ns()}.json"
    result = CliRunner().invoke(app, ["commission", *args, "--report", str(report)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    body = json.loads(report.read_text("utf-8"))
    return result.exit_code, " ".join(result.output.split()), body


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    for item in body["checks"]:
        if item["name"] == name:
            return dict(item)
    pytest.fail(f"no check {name!r} in {[c['name'] for c in body['checks']]}")


free_port = drivers_conftest.free_port
