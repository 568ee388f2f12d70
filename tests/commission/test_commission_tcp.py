"""Commissioning over Modbus TCP against `prepaid-gateway simulate modbus-tcp`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.commission.conftest import Simulator, check, commission

FAST = ("--settle-s", "0.5", "--timeout-s", "0.3")


def tcp(sim: Simulator, model: str, *extra: str) -> list[str]:
    port = sim.banner_value(r"on Modbus TCP 127\.0\.0\.1:(\d+)")
    return ["tcp", "--host", "127.0.0.1", "--port", port, "--model", model, *FAST, *extra]


@pytest.fixture
def prepaid(simulator: Callable[..., Simulator]) -> Simulator:
    return simulator("modbus-tcp", "--model", "prepaid-v1", "--port", "0", "--unit", "3")


def test_healthy_prepaid_meter_passes_every_check(prepaid: Simulator, tmp_path: Path) -> None:
    code, output, body = commission(
        tmp_path,
        *tcp(prepaid, "prepaid-v1", "--unit", "3", "--relay-test", "--balance-test", "42.50"),
    )
    assert code == 0, output
    assert body["verdict"] == "pass"
    assert body["meter"]["unit_id"] == 3
    names = [item["name"] for item in body["checks"]]
    for spec in ("serial_number", "total_energy", "peak_energy", "voltage", "balance", "relay"):
        assert f"register {spec}" in names
    for name in ("identity", "gateway poll", "voltage", "frequency", "bands sum to total",
                 "energy counts up", "relay opens", "relay closes", "balance write"):  # fmt: skip
        assert check(body, name)["status"] in {"pass", "warn"}, check(body, name)
    assert check(body, "balance write")["value"] == "wrote 42.50, read back 42.50; restored 100.00"
    assert "serial_number 3" in check(body, "identity")["value"]
    assert "PASS: the meter is wired, addressed and mapped right" in output


def test_offline_meter_no_answer_with_advice(prepaid: Simulator, tmp_path: Path) -> None:
    prepaid.set_faults("offline")
    code, output, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "3"))
    assert code == 1
    assert body["verdict"] == "fail"
    identity = check(body, "identity")
    assert identity["status"] == "fail"
    port = body["meter"]["port"]
    assert identity["explanation"].startswith(f"no answer from unit 3 at 127.0.0.1:{port}")
    assert "check the unit address" in identity["explanation"]
    assert check(body, "registers")["status"] == "skip"
    assert "FAIL" in output
    assert "start with [1] above" in output


def test_absent_unit_id_gets_silence(prepaid: Simulator, tmp_path: Path) -> None:
    code, _, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "9"))
    assert code == 1
    assert "no answer from unit 9" in check(body, "identity")["explanation"]


def test_relay_that_does_not_switch_is_explained(prepaid: Simulator, tmp_path: Path) -> None:
    prepaid.set_faults("relay-refuses")
    code, _, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "3", "--relay-test"))
    assert code == 1
    relay = check(body, "relay opens")
    assert relay["status"] == "fail"
    assert "the relay did not switch: told to be open, it reads back closed" in relay["explanation"]
    assert "remote relay control is enabled" in relay["explanation"]


def test_invalid_readings_and_stuck_energy(prepaid: Simulator, tmp_path: Path) -> None:
    prepaid.set_faults("invalid")
    code, _, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "3"))
    assert code == 1
    assert "reports 'not available' for voltage" in check(body, "register voltage")["explanation"]


def test_wrong_model_names_the_address_and_the_likely_model(
    simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator("modbus-tcp", "--model", "eastron-sdm630", "--port", "0")
    code, _, body = commission(tmp_path, *tcp(sim, "eastron-sdm120"))
    assert code == 1
    total = check(body, "register total_energy")
    assert total["status"] == "fail"
    assert total["explanation"].startswith(
        "illegal data address at 0x0156 (FC4): the meter has no such register, so the meter"
        " model is probably wrong (you said eastron-sdm120; is it eastron-sdm630"
    )


def test_stuck_energy_and_dead_voltage(simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = simulator(
        "modbus-tcp",
        "--model",
        "eastron-sdm120",
        "--port",
        "0",
        "--voltage-v",
        "0",
        "--fault",
        "stuck",
    )
    code, _, body = commission(tmp_path, *tcp(sim, "eastron-sdm120"))
    assert code == 1
    assert check(body, "voltage")["explanation"].startswith("no voltage measured (0 V)")
    energy = check(body, "energy counts up")
    assert energy["status"] == "fail"
    assert energy["explanation"].startswith("energy is stuck: the meter shows 1000 W")


def test_exception_reply_is_explained(prepaid: Simulator, tmp_path: Path) -> None:
    prepaid.set_faults("exception:4")
    code, _, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "3"))
    assert code == 1
    assert "server device failure at 0x0010" in check(body, "identity")["explanation"]
    prepaid.set_faults()
    code, _, body = commission(tmp_path, *tcp(prepaid, "prepaid-v1", "--unit", "3"))
    assert code == 0, body


def test_nothing_listening_is_a_link_failure(free_port: int, tmp_path: Path) -> None:
    code, _, body = commission(
        tmp_path,
        "tcp",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_port),
        "--model",
        "prepaid-v1",
        *FAST,
    )
    assert code == 1
    link = check(body, "link")
    assert link["status"] == "fail"
    assert f"cannot connect to 127.0.0.1:{free_port}" in link["explanation"]


def test_bad_command_line_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from gateway.cli import app  # noqa: PLC0415

    result = CliRunner().invoke(app, ["commission", "tcp", "--host", "h", "--model", "nope"])
    assert result.exit_code == 2
    assert "unknown model 'nope'" in result.output
