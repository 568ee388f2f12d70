"""`prepaid-gateway demo` as a user runs it: the whole story within the time, told on stdout
and true in the database; a clean exit 0 on Ctrl-C (SIGINT) or at `--duration-s`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gateway.ledger.verify import verify_ledger
from gateway.showcase import broker as broker_module
from gateway.storage.db import UnitOfWork, make_engine
from gateway.storage.schema import alerts, ledger_entries, meter_commands, top_ups

pytestmark = pytest.mark.slow
STORY = ("deduction", "ALERT", "DISCONNECT", "TOP-UP", "RECONNECT")


class Demo:
    """The demo as a subprocess; its stdout collected line by line as it comes."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        command = [sys.executable, "-m", "gateway", "demo", "--port", "0", "--speed", "3600",
                   "--data-dir", str(data_dir), *args]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                msg = f"{pattern!r} not printed within {timeout_s} s:\n{self.output()}\n{stderr}"
                raise AssertionError(msg)
            time.sleep(0.05)

    def finish(self, timeout_s: float) -> tuple[int, str]:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        return code, stderr


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait(10)


def assert_story_told(output: str) -> None:
    for word in STORY:
        assert re.search(rf"^\s*[\d.]+s {word}\b", output, re.MULTILINE), (word, output)
    lines = output.splitlines()
    first = {word: next(i for i, line in enumerate(lines) if f"s {word}" in line) for word in STORY}
    assert first["deduction"] < first["ALERT"] < first["DISCONNECT"] < first["TOP-UP"]
    assert first["TOP-UP"] < first["RECONNECT"]
    assert "HTTP 201" in output
    assert "HTTP 200" in output
    assert "Idempotent-Replayed: true" in output
    assert "ledger verified: 3 accounts" in output
    assert ": OK" in output


def assert_story_stored(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'demo.db'}")
    with UnitOfWork(engine, read_only=True) as uow:
        run = uow.connection.execute
        deductions = run(select(func.count()).select_from(ledger_entries)
                         .where(ledger_entries.c.kind == "deduction")).scalar_one()  # fmt: skip
        raised = {(row.account_id, row.kind) for row in run(select(alerts))}
        ordered = select(meter_commands).order_by(meter_commands.c.created_at)
        commands = [(row.meter_id, row.action, row.status) for row in run(ordered)]
        paid = list(run(select(top_ups.c.account_id, top_ups.c.reference, top_ups.c.amount)))
        report = verify_ledger(uow)
    engine.dispose()
    assert deductions > 10
    assert {("A-1002", "low_balance"), ("A-1002", "zero_credit")} <= raised
    assert commands[:2] == [("DEMO-M2", "relay_open", "confirmed"),
                            ("DEMO-M2", "relay_close", "confirmed")]  # fmt: skip
    assert [(a, r) for a, r, _ in paid][:1] == [("A-1002", "demo-A-1002-1")]  # retried: once
    assert report.violations == ()


def test_the_story_with_the_embedded_broker_then_ctrl_c(tmp_path: Path, demos: list[Demo]) -> None:
    """A machine without Mosquitto: the embedded broker, the whole story, SIGINT, exit 0."""
    demo = Demo(tmp_path, "--broker", "embedded")
    demos.append(demo)
    api = demo.wait_for(r"API docs\s+(http://127\.0\.0\.1:\d+)/docs", 30).group(1)
    metrics = demo.wait_for(r"metrics\s+(http://\S+/metrics)", 5).group(1)
    key = demo.wait_for(r"API key\s+(pgw_\S+)", 5).group(1)
    assert "embedded amqtt" in demo.output()
    assert httpx.get(f"{api}/docs", timeout=5).status_code == 200
    assert "prepaid_" in httpx.get(metrics, timeout=5).text
    balance = httpx.get(f"{api}/v1/accounts/A-1001/balance", headers={"X-API-Key": key}, timeout=5)
    assert balance.status_code == 200, balance.text
    demo.wait_for(r"s RECONNECT\s+relay_close confirmed by DEMO-M2", 45)
    demo.process.send_signal(signal.SIGINT)
    code, stderr = demo.finish(30)
    assert code == 0, (demo.output(), stderr)
    assert "Traceback" not in demo.output() + stderr, stderr
    assert_story_told(demo.output())
    assert_story_stored(tmp_path)


@pytest.mark.mqtt
def test_the_story_with_mosquitto_until_the_duration(tmp_path: Path, demos: list[Demo]) -> None:
    if broker_module.find_mosquitto() is None:
        pytest.fail("Mosquitto binary not found (scripts/install-test-tools.sh installs it)")
    demo = Demo(tmp_path, "--duration-s", "18")
    demos.append(demo)
    code, stderr = demo.finish(60)
    assert code == 0, (demo.output(), stderr)
    assert "Traceback" not in demo.output() + stderr, stderr
    assert "Mosquitto (" in demo.output()
    assert_story_told(demo.output())
    assert_story_stored(tmp_path)
