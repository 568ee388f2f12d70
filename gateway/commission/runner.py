"""Run the commissioning checks against one meter through the drivers; collect the results.

Order: the link and the meter's identity (its energy register, serial number); every
register of the map, one request each, so a failure names its address; the poll the
gateway will use (the planner's merged reads); sanity (voltage, frequency, bands, energy
counting up over ``settle_s``); then, only if asked, the relay round trip and the balance
write. When the meter does not answer at all, the rest is skipped, not failed again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from drivers.base import MeterSample
from drivers.errors import DriverError, InvalidValueError, MeterUnreachableError
from drivers.modbus import codec
from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.registers import DataType, RegisterSpec
from gateway.commission import explain as ex
from gateway.commission import lineprobe
from gateway.commission.actions import balance_round_trip, relay_round_trip
from gateway.commission.checks import (
    CheckResult,
    Nominal,
    check_bands,
    check_energy_progress,
    check_frequency,
    check_voltage,
)
from gateway.commission.explain import Target

VOLTAGE_ROLES = ("voltage_v", "voltage_l2_v", "voltage_l3_v")


class Progress(Protocol):
    def begin(self, name: str) -> None: ...

    def done(self, result: CheckResult) -> None: ...


@dataclass(frozen=True, slots=True)
class Options:
    relay_test: bool = False
    balance_test: Decimal | None = None
    settle_s: float = 2.0
    timeout_s: float = 1.0
    nominal: Nominal = field(default_factory=Nominal)


@dataclass
class Outcome:
    target: Target
    options: Options
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(result.failed for result in self.results)


class _UnreachableError(Exception):
    """The meter never answered; the remaining checks are skipped."""


async def commission(target: Target, options: Options, progress: Progress) -> Outcome:
    outcome = Outcome(target, options, datetime.now(UTC))
    session = _Session(target, options, progress, outcome)
    try:
        await session.run()
    finally:
        session.link.close()
        outcome.finished_at = datetime.now(UTC)
    return outcome


class _Session:
    def __init__(
        self, target: Target, options: Options, progress: Progress, outcome: Outcome
    ) -> None:
        self.target, self.options, self.progress, self.outcome = target, options, progress, outcome
        self.model = target.model
        self.link = _open_link(target)
        self.driver = ModbusMeterDriver(
            meter_id=f"unit{target.unit_id}",
            link=self.link,
            model=self.model,
            unit_id=target.unit_id,
            timeout_s=options.timeout_s,
            retries=1,
            retry_backoff_s=0.05,
        )
        self.values: dict[str, Decimal] = {}
        self.answered: set[tuple[int, int]] = set()

    def record(self, result: CheckResult) -> CheckResult:
        self.outcome.results.append(result)
        self.progress.done(result)
        return result

    async def run(self) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("identity", self.identity),
            ("registers", self.registers),
            ("gateway poll", self.poll_and_sanity),
        ]
        if self.options.relay_test:
            steps.append(("relay", self.relay))
        if self.options.balance_test is not None:
            steps.append(("balance", self.balance))
        for index, (_, step) in enumerate(steps):
            try:
                await step()
            except _UnreachableError:
                for name, _ in steps[index + 1 :]:
                    self.record(CheckResult(name, "skip", "not run: the meter did not answer"))
                return

    # -- identity --------------------------------------------------------------------
    async def identity(self) -> None:
        self.progress.begin(f"talking to {self.target.where()}")
        energy = self.model.find(self.model.energy_role)
        assert energy is not None  # a model always has its energy register
        try:
            value = await self._read_value(energy)
        except MeterUnreachableError as error:
            if ex.is_link_down(error):
                self.record(
                    CheckResult("link", "fail", error.reason, ex.link_down(self.target, error))
                )
            else:
                self.record(CheckResult("link", "pass", self.link.description))
                advice = await self._diagnose_silence(energy)
                self.record(CheckResult("identity", "fail", "no answer", advice))
            raise _UnreachableError from error
        except DriverError as error:
            self.record(CheckResult("link", "pass", self.link.description))
            self.record(CheckResult("identity", "fail", _short(error), self._explain(error)))
            return
        self.record(CheckResult("link", "pass", self.link.description))
        facts = [f"{energy.name} {value} {energy.unit}".strip()]
        for role in ("serial_number", "map_version"):
            if (spec := self.model.find(role)) is not None:
                facts.append(f"{role} {await self._safe_read(spec)}")
        self.record(
            CheckResult("identity", "pass", "; ".join(facts), f"answers as {self.model.name}")
        )

    async def _diagnose_silence(self, spec: RegisterSpec) -> str:
        if self.target.transport != "rtu":
            return ex.no_answer(self.target)
        self.link.close()  # the probe needs the port to itself
        probe = await asyncio.to_thread(
            lineprobe.probe_rtu,
            self.target.device,
            self.target.line,
            unit_id=self.target.unit_id,
            function_code=spec.function_code,
            address=spec.address,
            count=spec.count,
            timeout_s=self.options.timeout_s,
        )
        if probe.kind == "garbled":
            return ex.garbled(self.target) + f" (received {probe.received.hex(' ')})"
        if probe.kind == "other-unit":
            return ex.other_unit(self.target, probe.detail)
        return ex.no_answer(self.target)

    async def _safe_read(self, spec: RegisterSpec) -> str:
        try:
            return str(await self._read_value(spec))
        except DriverError as error:
            return f"unreadable ({_short(error)})"

    # -- every register ----------------------------------------------------------------
    async def registers(self) -> None:
        for spec in self.model.registers:
            self.progress.begin(f"reading {spec.name}")
            where = f"FC{spec.function_code} 0x{spec.address:04X} {spec.data_type}"
            name = f"register {spec.name}"
            try:
                value = await self._read_value(spec)
            except MeterUnreachableError as error:
                self.record(CheckResult(name, "fail", where, ex.explain(error, self.target)))
                raise _UnreachableError from error
            except InvalidValueError as error:
                self.record(CheckResult(name, "fail", where, ex.invalid_value(spec)))
                del error
                continue
            except DriverError as error:
                self.record(CheckResult(name, "fail", where, self._explain(error)))
                continue
            self.values[spec.role] = value
            self.record(CheckResult(name, "pass", f"{value} {spec.unit} ({where})".strip()))

    async def _read_value(self, spec: RegisterSpec) -> Decimal:
        meter_id, unit_id = self.driver.meter_id, self.target.unit_id
        fc, address, timeout_s = spec.function_code, spec.address, self.options.timeout_s
        if spec.data_type is DataType.BOOL:
            bits = await self.link.read_bits(
                meter_id=meter_id, unit_id=unit_id, function_code=fc, address=address, count=1,
                timeout_s=timeout_s,
            )  # fmt: skip
            self.answered.add((fc, address))
            return Decimal(int(bits[0]))
        registers = await self.link.read_registers(
            meter_id=meter_id, unit_id=unit_id, function_code=fc, address=address,
            count=spec.count, timeout_s=timeout_s,
        )  # fmt: skip
        self.answered.add((fc, address))
        if codec.is_invalid(registers, spec):
            raw = codec.raw_unsigned(registers, spec)
            raise InvalidValueError(meter_id=meter_id, register=spec.name, raw=raw)
        return codec.decode(registers, spec)

    def _explain(self, error: DriverError) -> str:
        return ex.explain(error, self.target, answered=self.answered)

    # -- the gateway's poll and sanity ---------------------------------------------------
    async def poll_and_sanity(self) -> None:
        self.progress.begin("polling as the gateway will")
        first = await self._sample("gateway poll")
        if first is None:
            return
        requests = len(self.driver.plan)
        self.record(CheckResult("gateway poll", "pass", f"{requests} request(s), all decoded"))
        self._sanity(first)
        self.progress.begin(f"waiting {self.options.settle_s} s to see energy count")
        began = time.monotonic()
        await asyncio.sleep(self.options.settle_s)
        second = await self._sample("energy counts up")
        if second is None:
            return
        energy = self.model.find(self.model.energy_role)
        assert energy is not None
        self.record(
            check_energy_progress(
                first_kwh=first.energy_kwh,
                second_kwh=second.energy_kwh,
                elapsed_s=Decimal(str(round(time.monotonic() - began, 3))),
                power_w=second.extras.get("power_w"),
                step_kwh=_step(energy, second.energy_kwh),
                nominal=self.options.nominal,
            )
        )

    async def _sample(self, name: str) -> MeterSample | None:
        try:
            return await self.driver.read()
        except DriverError as error:
            advice = self._explain(error)
            if any(r.failed and r.name.startswith("register ") for r in self.outcome.results):
                advice = "its reads include the failing registers above: fix those first"
            self.record(CheckResult(name, "fail", _short(error), advice))
            if isinstance(error, MeterUnreachableError):
                raise _UnreachableError from error
            return None

    def _sanity(self, sample: MeterSample) -> None:
        nominal = self.options.nominal
        for role in VOLTAGE_ROLES:
            if (value := sample.extras.get(role)) is not None:
                name = "voltage" if role == "voltage_v" else f"voltage {role[8:10].upper()}"
                self.record(check_voltage(name, value, nominal))
        if (hz := sample.extras.get("frequency_hz")) is not None:
            self.record(check_frequency(hz, nominal))
        if sample.bands_kwh:
            steps = [_step(spec, sample.energy_kwh) for spec in self.model.band_registers]
            self.record(
                check_bands(
                    total_kwh=sample.energy_kwh, bands_kwh=sample.bands_kwh, step_kwh=max(steps)
                )
            )

    # -- optional actions -----------------------------------------------------------------
    async def relay(self) -> None:
        self.progress.begin("relay open / close round trip")
        for result in await relay_round_trip(self.driver, self.target):
            self.record(result)

    async def balance(self) -> None:
        self.progress.begin("balance write and read-back")
        amount = self.options.balance_test
        assert amount is not None
        self.record(await balance_round_trip(self.driver, self.target, amount))


def _open_link(target: Target) -> ModbusLink:
    if target.transport == "rtu":
        return ModbusLink.serial(target.device, target.line)
    return ModbusLink.tcp(target.host, target.port)


def _step(spec: RegisterSpec, value: Decimal) -> Decimal:
    """The smallest change the register can show near ``value`` (kWh)."""
    if spec.data_type is DataType.FLOAT32:
        return max(abs(value) * Decimal(2) ** -23, Decimal("1e-9"))
    if spec.data_type is DataType.FLOAT64:
        return max(abs(value) * Decimal(2) ** -52, Decimal("1e-12"))
    return spec.scale


def _short(error: DriverError) -> str:
    text = str(error)
    return text if len(text) <= 80 else text[:77] + "..."
