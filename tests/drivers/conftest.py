"""Fixtures for the Modbus driver tests: free ports, socat pty pairs, simulator servers."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.models import MODELS
from drivers.registers import MeterModel
from simulators.meter import ManualClock, VirtualMeter
from simulators.modbus_server import MeterBusContext, RunningServer, SimulatedUnit, serve_tcp
from simulators.profiles import FOUR_BANDS, SINGLE_BAND, ConstantLoad


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PtyPair:
    server_end: str
    client_end: str


@pytest.fixture
def pty_pair() -> Iterator[PtyPair]:
    """Two linked ptys from ``socat -d -d pty,raw,echo=0 pty,raw,echo=0``."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("socat is not installed (scripts/install-test-tools.sh)")
    process = subprocess.Popen(
        [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    names: list[str] = []
    deadline = time.monotonic() + 5
    while len(names) < 2 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if match := re.search(r"PTY is (\S+)", line):
            names.append(match.group(1))
    try:
        assert len(names) == 2, "socat did not report two ptys"
        assert all(Path(name).exists() for name in names)
        yield PtyPair(server_end=names[0], client_end=names[1])
    finally:
        process.terminate()
        process.wait(timeout=5)


async def wait_until(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]],
    *,
    timeout_s: float = 5.0,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until true; fail after ``timeout_s``. No fixed sleeps."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


def make_unit(
    model: MeterModel,
    clock: ManualClock,
    *,
    power_w: str = "1000",
    serial_number: int = 1,
    balance: Decimal | None = None,
) -> SimulatedUnit:
    meter = VirtualMeter(
        clock=clock,
        profile=ConstantLoad(Decimal(power_w)),
        bands=FOUR_BANDS if model.band_registers else SINGLE_BAND,
        serial_number=serial_number,
        balance=balance,
    )
    return SimulatedUnit(meter, model)


@dataclass
class Bench:
    """A TCP simulator with one unit per built-in model (unit ids 1..n), on a manual clock."""

    clock: ManualClock
    context: MeterBusContext
    server: RunningServer
    unit_by_model: dict[str, int]

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    clock = ManualClock()
    units: dict[int, SimulatedUnit] = {}
    unit_by_model: dict[str, int] = {}
    for unit_id, model in enumerate(MODELS.values(), start=1):
        units[unit_id] = make_unit(model, clock, balance=Decimal("50.00"))
        unit_by_model[model.name] = unit_id
    context = MeterBusContext(units)
    server = await serve_tcp(context)
    yield Bench(clock, context, server, unit_by_model)
    await server.stop()
