"""Fleet mode: the meters of a scenario in one process, and the control file that breaks them.

Modbus TCP groups are served as ``units_per_socket`` unit ids per TCP server (like TCP
gateways fronting RS-485 buses), as many servers as the count needs; MQTT concentrator
groups publish ``meters_per_concentrator`` readings per message every ``interval_s``.
Meters compute their registers only when asked, so an idle fleet costs no CPU.

The control file (JSON ``{"faults": ["offline"], "units": [3]}``; ``units`` optional,
default all) replaces the faults of a running simulator each time it changes; it is
written by ``prepaid-gateway simulate fault`` (atomically) and polled every 0.2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from drivers.models import MODELS
from drivers.registers import MeterModel
from simulators.meter import AcceleratedClock, VirtualMeter
from simulators.modbus_server import MeterBusContext, RunningServer, SimulatedUnit, serve_tcp
from simulators.mqtt_concentrator import MqttConcentrator, make_meters
from simulators.profiles import FOUR_BANDS, RESIDENTIAL, SINGLE_BAND, ConstantLoad, LoadProfile
from simulators.scenario import FaultSpec, Group, Scenario, parse_fault


def make_unit(
    model: MeterModel,
    clock: AcceleratedClock,
    *,
    profile: LoadProfile,
    serial_number: int = 1,
    opening_energy_kwh: Decimal = Decimal(0),
    balance: Decimal | None = None,
    price_per_kwh: Decimal | None = None,
    voltage_v: Decimal = Decimal("230.0"),
) -> SimulatedUnit:
    meter = VirtualMeter(
        clock=clock,
        profile=profile,
        bands=FOUR_BANDS if model.band_registers else SINGLE_BAND,
        serial_number=serial_number,
        opening_energy_kwh=opening_energy_kwh,
        balance=balance,
        price_per_kwh=price_per_kwh,
        voltage_v=voltage_v,
    )
    return SimulatedUnit(meter, model)


def _profile(group: Group) -> LoadProfile:
    if group.profile == "residential":
        return RESIDENTIAL
    return ConstantLoad(group.profile.constant_w)


@dataclass
class ServedSocket:
    group: str
    model: str
    host: str
    port: int
    units: int
    context: MeterBusContext
    server: RunningServer


@dataclass
class Fleet:
    scenario: Scenario
    clock: AcceleratedClock
    sockets: list[ServedSocket] = field(default_factory=list)
    concentrators: list[MqttConcentrator] = field(default_factory=list)
    startup_s: float = 0.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, scenario: Scenario) -> Fleet:
        began = time.perf_counter()
        start = scenario.start or datetime.now(UTC)
        fleet = cls(scenario, AcceleratedClock(start, factor=scenario.acceleration))
        serial = 0
        for group in scenario.groups:
            if group.transport == "modbus-tcp":
                await fleet._serve_group(group, first_serial=serial + 1)
            else:
                fleet._start_concentrators(group)
            serial += group.count
        fleet.startup_s = time.perf_counter() - began
        return fleet

    async def _serve_group(self, group: Group, *, first_serial: int) -> None:
        model, profile = MODELS[group.model], _profile(group)
        specs = [(parse_fault(gf.fault), gf.indexes(group.count)) for gf in group.faults]
        origin = self.clock.now()
        for socket_index, first in enumerate(range(0, group.count, group.units_per_socket)):
            units: dict[int, SimulatedUnit] = {}
            for index in range(first, min(first + group.units_per_socket, group.count)):
                unit = make_unit(
                    model,
                    self.clock,
                    profile=profile,
                    serial_number=first_serial + index,
                    opening_energy_kwh=group.opening_energy_kwh,
                    balance=group.balance,
                    price_per_kwh=group.price_per_kwh,
                )
                for spec, indexes in specs:
                    if index in indexes:
                        spec.schedule(unit.faults, origin)
                units[index - first + 1] = unit
            context = MeterBusContext(units)
            port = group.base_port + socket_index if group.base_port else 0
            server = await serve_tcp(context, host=self.scenario.host, port=port)
            assert server.port is not None
            self.sockets.append(
                ServedSocket(
                    group.name,
                    group.model,
                    self.scenario.host,
                    server.port,
                    len(units),
                    context,
                    server,
                )
            )

    def _start_concentrators(self, group: Group) -> None:
        from drivers.mqtt.transport import BrokerAddress  # noqa: PLC0415 - MQTT only if used

        broker = BrokerAddress(self.scenario.mqtt.host, self.scenario.mqtt.port)
        power = group.profile.constant_w if not isinstance(group.profile, str) else Decimal(500)
        for number, first in enumerate(range(0, group.count, group.meters_per_concentrator), 1):
            meters = make_meters(
                min(group.meters_per_concentrator, group.count - first),
                started_at=self.clock.now(),
                prefix=f"{group.name}-{number}-",
                power_w=power,
            )
            dcu = MqttConcentrator(
                f"{group.name}-{number}", meters, broker=broker, clock=self.clock.now
            )
            dcu.connect()
            self.concentrators.append(dcu)
            task = asyncio.create_task(_publish_every(dcu, group.interval_s))
            self._tasks.append(task)

    @property
    def units(self) -> list[SimulatedUnit]:
        return [unit for served in self.sockets for unit in served.context.units.values()]

    def manifest(self) -> dict[str, object]:
        return {
            "scenario": self.scenario.name,
            "meters": self.scenario.meter_count,
            "startup_s": round(self.startup_s, 3),
            "rss_mb": round(rss_mb(), 1),
            "sockets": [
                {
                    "group": s.group,
                    "model": s.model,
                    "host": s.host,
                    "port": s.port,
                    "units": s.units,
                }
                for s in self.sockets
            ],
            "concentrators": [dcu.concentrator_id for dcu in self.concentrators],
        }

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for served in self.sockets:
            await served.server.stop()
        for dcu in self.concentrators:
            dcu.close()


async def _publish_every(dcu: MqttConcentrator, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await asyncio.to_thread(dcu.publish_tick, confirm=False)


def rss_mb() -> float:
    """Resident memory of this process now (MB)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the control file ----------------------------------------------------------------------
def write_control(path: Path, faults: Iterable[str], units: Iterable[int] = ()) -> None:
    """Validate the faults and write the control file atomically (rename)."""
    texts = list(faults)
    for text in texts:
        parse_fault(text)
    body = {"faults": texts, "units": sorted(units) or None}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(body) + "\n", encoding="utf-8")
    temporary.replace(path)


def read_control(path: Path) -> tuple[list[FaultSpec], set[int] | None]:
    body = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict) or not isinstance(body.get("faults", []), list):
        msg = 'expected {"faults": ["offline", ...], "units": [1, ...] or null}'
        raise ValueError(msg)
    units = body.get("units")
    return [parse_fault(str(text)) for text in body.get("faults", [])], (
        None if units is None else {int(u) for u in units}
    )


async def watch_control(
    path: Path,
    units: Mapping[int, SimulatedUnit],
    *,
    report: Callable[[str], None],
    poll_s: float = 0.2,
) -> None:
    """Apply the control file's faults each time it changes (runs until cancelled)."""
    seen: tuple[int, int] | None = None
    while True:
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            if (stat.st_mtime_ns, stat.st_size) != seen:
                seen = (stat.st_mtime_ns, stat.st_size)
                _apply_control(path, units, report)
        await asyncio.sleep(poll_s)


def _apply_control(
    path: Path, units: Mapping[int, SimulatedUnit], report: Callable[[str], None]
) -> None:
    try:
        specs, chosen = read_control(path)
    except (ValueError, OSError) as exc:
        report(f"control file {path}: {exc} (faults unchanged)")
        return
    for unit_id, unit in units.items():
        if chosen is not None and unit_id not in chosen:
            continue
        unit.faults.clear()
        now = unit.meter.clock.now()
        for spec in specs:
            spec.schedule(unit.faults, now)
    names = ", ".join(spec.text for spec in specs) or "none (healthy)"
    which = "all units" if chosen is None else "unit(s) " + ", ".join(map(str, sorted(chosen)))
    report(f"faults now: {names} on {which}")
