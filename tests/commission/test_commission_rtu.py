"""The technician's rehearsal: a simulated SDM120 on a pty, commissioned, broken, explained."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.commission.conftest import Simulator, check, commission

pytestmark = pytest.mark.usefixtures("needs_socat")


def test_sdm120_on_a_pty_pass_then_offline_then_crc_then_healed(
    simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator("modbus-rtu", "--model", "eastron-sdm120", "--pty")
    device = sim.banner_value(r"client device: (\S+)")
    args = ["rtu", "--device", device, "--baud", "2400", "--unit", "1", "--model", "eastron-sdm120",
            "--settle-s", "0.5", "--timeout-s", "0.5"]  # fmt: skip

    code, output, body = commission(tmp_path, *args)
    assert code == 0, output
    assert body["meter"]["serial"] == "2400 8N1"
    assert all(item["status"] == "pass" for item in body["checks"]), body["checks"]
    assert "PASS: the meter is wired, addressed and mapped right" in output

    sim.set_faults("offline")
    code, output, body = commission(tmp_path, *args)
    assert code == 1
    assert check(body, "identity")["explanation"].startswith(
        f"no answer from unit 1 at 2400 8N1 on {device} — check wiring (A/B swapped?),"
        " the unit address and the baud rate"
    )
    assert "no answer from unit 1 at 2400 8N1" in output

    sim.set_faults("crc")
    code, _, body = commission(tmp_path, *args)
    assert code == 1
    assert check(body, "identity")["explanation"].startswith(
        f"replies from unit 1 at 2400 8N1 on {device} arrive garbled (CRC errors)"
    )

    sim.set_faults()
    code, _, body = commission(tmp_path, *args)
    assert code == 0, body


def test_wrong_unit_on_rtu_gets_silence(
    simulator: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator("modbus-rtu", "--model", "chint-ddsu666", "--pty", "--unit", "2")
    device = sim.banner_value(r"client device: (\S+)")
    code, _, body = commission(
        tmp_path, "rtu", "--device", device, "--unit", "3", "--model", "chint-ddsu666",
        "--timeout-s", "0.3",
    )  # fmt: skip
    assert code == 1
    assert (
        f"no answer from unit 3 at 9600 8N1 on {device}" in check(body, "identity")["explanation"]
    )


def test_missing_serial_port_is_a_link_failure(tmp_path: Path) -> None:
    code, _, body = commission(
        tmp_path, "rtu", "--device", "/dev/ttyNOPE0", "--model", "eastron-sdm120"
    )
    assert code == 1
    assert "cannot open /dev/ttyNOPE0" in check(body, "link")["explanation"]
