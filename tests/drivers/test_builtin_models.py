"""Every built-in model, served by the simulator, read two ways over real TCP sockets.

1. Through the driver (model map + codec).
2. Independently, with pymodbus' own client and ``convert_from_registers`` (and with
   ``mbpoll`` when installed) at the addresses the manufacturers document (DOMAIN.md),
   written out here by hand rather than taken from the model under test.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from pymodbus.client import AsyncModbusTcpClient

from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.models import MODELS
from tests.drivers.conftest import Bench

pytestmark = pytest.mark.anyio

DT = AsyncModbusTcpClient.DATATYPE

# The simulated meters draw 1000 W at 230 V, 50 Hz for 10 h 30 min: 10.5 kWh.
ELAPSED = timedelta(hours=10, minutes=30)


@dataclass(frozen=True)
class Documented:
    function_code: int
    address: int
    data_type: AsyncModbusTcpClient.DATATYPE
    expected: float | int


DOCUMENTED: dict[str, list[Documented]] = {
    "eastron-sdm120": [
        Documented(4, 0x0000, DT.FLOAT32, 230.0),
        Documented(4, 0x000C, DT.FLOAT32, 1000.0),
        Documented(4, 0x0048, DT.FLOAT32, 10.5),
        Documented(4, 0x0156, DT.FLOAT32, 10.5),
    ],
    "eastron-sdm630": [
        Documented(4, 0x0000, DT.FLOAT32, 230.0),
        Documented(4, 0x0034, DT.FLOAT32, 1000.0),
        Documented(4, 0x0048, DT.FLOAT32, 10.5),
    ],
    "chint-ddsu666": [
        Documented(4, 0x2000, DT.FLOAT32, 230.0),
        Documented(4, 0x2004, DT.FLOAT32, 1.0),  # kW
        Documented(4, 0x200E, DT.FLOAT32, 50.0),
        Documented(4, 0x4000, DT.FLOAT32, 10.5),
    ],
    "chint-dtsu666": [
        Documented(3, 0x2006, DT.FLOAT32, 2300.0),  # x0.1 V
        Documented(3, 0x2012, DT.FLOAT32, 10000.0),  # x0.1 W
        Documented(3, 0x2044, DT.FLOAT32, 5000.0),  # x0.01 Hz
        Documented(3, 0x101E, DT.FLOAT32, 10.5),
    ],
    "chint-dtsu666-4000": [Documented(3, 0x401E, DT.FLOAT32, 10.5)],
    "abb-b2x": [
        Documented(3, 0x5000, DT.UINT64, 1050),  # x0.01 kWh
        Documented(3, 0x5B00, DT.UINT32, 2300),  # x0.1 V
        Documented(3, 0x5B14, DT.INT32, 100000),  # x0.01 W
    ],
    "prepaid-v1": [
        Documented(3, 0x0010, DT.UINT32, 1050),  # total x0.01 kWh
        Documented(3, 0x0020, DT.UINT16, 2300),  # x0.1 V
        Documented(3, 0x0030, DT.INT32, 5000),  # balance x0.01
    ],
}


def test_documented_table_covers_every_model() -> None:
    assert set(DOCUMENTED) == set(MODELS)


@pytest.mark.parametrize("model_name", sorted(MODELS))
async def test_driver_decodes_every_model(bench: Bench, model_name: str) -> None:
    bench.clock.advance(ELAPSED)
    link = ModbusLink.tcp("127.0.0.1", bench.port)
    driver = ModbusMeterDriver(
        meter_id=model_name,
        link=link,
        model=MODELS[model_name],
        unit_id=bench.unit_by_model[model_name],
    )
    try:
        sample = await driver.read()
    finally:
        link.close()
    assert sample.energy_kwh == Decimal("10.5")
    assert sample.extras["voltage_v"] == Decimal(230)
    assert sample.extras["power_w"] == Decimal(1000)
    assert sample.source == f"modbus-tcp://127.0.0.1:{bench.port}/unit{driver.unit_id}"
    assert all(isinstance(v, Decimal) for v in sample.extras.values())
    if model_name == "prepaid-v1":
        # the clock starts at 08:00 Asia/Shanghai: 08-10 flat, 10-11 peak, 11-13 sharp,
        # 13-15 peak, 15-18 flat, 18-18:30 peak
        assert sample.bands_kwh == {
            "valley": Decimal(0),
            "flat": Decimal(5),
            "peak": Decimal("3.5"),
            "sharp": Decimal(2),
        }
        assert sum(sample.bands_kwh.values()) == sample.energy_kwh
        assert sample.balance == Decimal("50.00")
        assert sample.relay == "closed"
    if "frequency_hz" in sample.extras:
        assert sample.extras["frequency_hz"] == Decimal(50)


@pytest.mark.parametrize("model_name", sorted(MODELS))
async def test_documented_addresses_with_pymodbus_client(bench: Bench, model_name: str) -> None:
    bench.clock.advance(ELAPSED)
    unit = bench.unit_by_model[model_name]
    async with AsyncModbusTcpClient("127.0.0.1", port=bench.port) as client:
        for entry in DOCUMENTED[model_name]:
            read = (
                client.read_input_registers
                if entry.function_code == 4
                else client.read_holding_registers
            )
            reply = await read(entry.address, count=entry.data_type.value[1], device_id=unit)
            assert not reply.isError(), f"{model_name} 0x{entry.address:04X}: {reply}"
            value = client.convert_from_registers(reply.registers, entry.data_type)
            assert value == pytest.approx(entry.expected), f"0x{entry.address:04X}"
        if model_name == "prepaid-v1":
            coil = await client.read_coils(0, count=1, device_id=unit)
            assert coil.bits[0] is True


MBPOLL = shutil.which("mbpoll")


@pytest.mark.skipif(MBPOLL is None, reason="mbpoll not installed (scripts/install-test-tools.sh)")
@pytest.mark.parametrize(
    ("model_name", "table", "address", "expected"),
    [
        ("eastron-sdm120", "3:float", 0x0048, "10.5"),
        ("eastron-sdm630", "3:float", 0x0048, "10.5"),
        ("chint-ddsu666", "3:float", 0x4000, "10.5"),
        ("chint-dtsu666", "4:float", 0x101E, "10.5"),
        ("chint-dtsu666-4000", "4:float", 0x401E, "10.5"),
        ("abb-b2x", "4:int", 0x5B00, "2300"),  # mbpoll has no 64-bit type: voltage, x0.1 V
        ("prepaid-v1", "4:int", 0x0010, "1050"),
    ],
)
async def test_documented_addresses_with_mbpoll(
    bench: Bench, model_name: str, table: str, address: int, expected: str
) -> None:
    bench.clock.advance(ELAPSED)
    unit = bench.unit_by_model[model_name]
    assert MBPOLL is not None
    process = await asyncio.create_subprocess_exec(
        MBPOLL,
        *("-m", "tcp", "-p", str(bench.port), "-a", str(unit), "-t", table),
        *("-0", "-r", str(address), "-B", "-1", "-o", "2", "127.0.0.1"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0, stderr.decode()
    assert f"[{address}]: \t{expected}" in stdout.decode(), stdout.decode()
