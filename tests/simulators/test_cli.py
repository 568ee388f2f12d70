"""`prepaid-gateway simulate`: servers an independent client reads; fleet mode in one process."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from typer.testing import CliRunner

from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.models import MODELS
from gateway.cli import app
from simulators.fleet import Fleet, read_control, write_control
from simulators.scenario import scenario_from_mapping

GATEWAY = [sys.executable, "-m", "gateway"]


def start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `prepaid-gateway simulate ...`; wait (with a deadline) for its 'stop:' line."""
    process = subprocess.Popen(
        [*GATEWAY, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith(("stop:", "fleet ")):
            return process, lines
    process.kill()
    pytest.fail(f"simulator did not start: {lines}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)


def test_modbus_tcp_server_read_by_pymodbus_client() -> None:
    process, lines = start("modbus-tcp", "--model", "eastron-sdm120", "--port", "0", "--unit", "5")
    try:
        port = int(re.search(r"127\.0\.0\.1:(\d+)", lines[0]).group(1))  # type: ignore[union-attr]

        async def read() -> list[int]:
            client = AsyncModbusTcpClient("127.0.0.1", port=port)
            await client.connect()
            reply = await client.read_input_registers(0x0000, count=2, device_id=5)
            client.close()
            return list(reply.registers)

        registers = asyncio.run(read())
        assert registers == [0x4366, 0x0000]  # 230.0 as float32 ABCD
    finally:
        stop(process)


def test_modbus_rtu_pty_read_by_mbpoll() -> None:
    if shutil.which("socat") is None or shutil.which("mbpoll") is None:
        pytest.skip("needs socat and mbpoll (scripts/install-test-tools.sh)")
    process, lines = start("modbus-rtu", "--model", "chint-ddsu666", "--pty")
    try:
        device = next(line.split()[-1] for line in lines if "client device:" in line)
        result = subprocess.run(
            ["mbpoll", "-m", "rtu", "-b", "9600", "-P", "none", "-a", "1", "-t", "3:float",
             "-B", "-r", str(0x2000 + 1), "-c", "1", "-1", "-o", "1", device],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        assert "[8193]: \t230" in result.stdout, result.stdout
    finally:
        stop(process)


def test_bad_fault_on_the_command_line_exits_2() -> None:
    result = CliRunner().invoke(app, ["simulate", "modbus-tcp", "--fault", "ofline"])
    assert result.exit_code == 2
    assert "unknown fault kind 'ofline'" in result.output


def test_fault_command_writes_the_control_file(tmp_path: Path) -> None:
    control = tmp_path / "control.json"
    result = CliRunner().invoke(
        app, ["simulate", "fault", "--control", str(control), "--unit", "3", "exception:2@10s"]
    )
    assert result.exit_code == 0, result.output
    specs, units = read_control(control)
    assert [spec.text for spec in specs] == ["exception:2@10s"]
    assert units == {3}
    write_control(control, [])
    assert read_control(control) == ([], None)


def test_fleet_of_200_meters_in_one_process() -> None:
    scenario = scenario_from_mapping(
        {
            "acceleration": 3600,
            "groups": [
                {"name": "flats", "model": "prepaid-v1", "count": 150, "units_per_socket": 100,
                 "balance": "50.00", "faults": [{"fault": "offline", "meters": ["101-110"]}]},
                {"name": "shops", "model": "eastron-sdm630", "count": 50,
                 "profile": {"constant_w": 3000}},
            ],
        }
    )  # fmt: skip

    async def run() -> None:
        fleet = await Fleet.start(scenario)
        try:
            assert [(s.group, s.units) for s in fleet.sockets] == [
                ("flats", 100), ("flats", 50), ("shops", 50)
            ]  # fmt: skip
            assert len(fleet.units) == 200
            serials = {unit.meter.serial_number for unit in fleet.units}
            assert serials == set(range(1, 201))
            reads = [
                (fleet.sockets[0], 100, "prepaid-v1"),
                (fleet.sockets[2], 50, "eastron-sdm630"),
            ]
            for served, unit_id, model in reads:
                link = ModbusLink.tcp(served.host, served.port)
                driver = ModbusMeterDriver(
                    meter_id="m", link=link, model=MODELS[model], unit_id=unit_id
                )
                sample = await driver.read()
                link.close()
                assert sample.energy_kwh >= 0
            assert fleet.sockets[0].context.units[100].meter.balance == Decimal("50.00")
            offline = fleet.sockets[1].context.units[1]  # meter 101 of the group
            assert offline.faults.entries
            manifest = fleet.manifest()
            assert manifest["meters"] == 200
            assert isinstance(manifest["rss_mb"], float)
        finally:
            await fleet.stop()

    asyncio.run(run())


def test_simulate_fleet_command_writes_a_manifest(tmp_path: Path) -> None:
    scenario = tmp_path / "fleet.yaml"
    scenario.write_text("groups:\n  - {model: chint-ddsu666, count: 20}\n", encoding="utf-8")
    manifest = tmp_path / "manifest.json"
    process, lines = start("fleet", str(scenario), "--manifest", str(manifest))
    try:
        assert "20 meters on 1 Modbus TCP socket(s)" in lines[-1]
        body = json.loads(manifest.read_text("utf-8"))
        assert body["sockets"][0]["units"] == 20
    finally:
        stop(process)


def test_invalid_scenario_names_the_key(tmp_path: Path) -> None:
    scenario = tmp_path / "fleet.yaml"
    scenario.write_text("groups:\n  - {model: chint-ddsu666, count: -1}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "fleet", str(scenario)])
    assert result.exit_code == 1
    assert "groups[0].count: Input should be greater than or equal to 1" in result.output
