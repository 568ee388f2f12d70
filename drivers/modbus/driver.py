"""``ModbusMeterDriver``: one meter (a unit id on a ``ModbusLink``) read through its model.

A read issues the model's planned requests, decodes every register and returns a
``MeterSample`` stamped with the moment the energy register's reply arrived. A failed
read raises; it never returns the previous value. An invalid marker on a billing
quantity (energy, band, balance) raises ``InvalidValueError``; on an extra (voltage
etc.) the extra is left out of the sample.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from drivers.base import MeterSample, RelayState
from drivers.errors import (
    InvalidValueError,
    MeterUnreachableError,
    RelayNotConfirmedError,
    UnsupportedOperationError,
    WriteNotConfirmedError,
)
from drivers.modbus import codec
from drivers.modbus.link import ModbusLink
from drivers.modbus.planner import ReadRequest, plan_reads
from drivers.registers import MeterModel, RegisterSpec, band_name

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ModbusMeterDriver:
    """A ``drivers.base.MeterDriver`` for one Modbus meter."""

    def __init__(
        self,
        *,
        meter_id: str,
        link: ModbusLink,
        model: MeterModel,
        unit_id: int | None = None,
        timeout_s: float = 1.0,
        retries: int = 1,
        retry_backoff_s: float = 0.1,
        relay_confirm_timeout_s: float = 2.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._meter_id = meter_id
        self.link = link
        self.model = model
        self.unit_id = model.unit_id if unit_id is None else unit_id
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.relay_confirm_timeout_s = relay_confirm_timeout_s
        self._clock = clock
        self.plan: tuple[ReadRequest, ...] = plan_reads(model)
        self.source = f"{link.description}/unit{self.unit_id}"

    @property
    def meter_id(self) -> str:
        return self._meter_id

    async def read(self) -> MeterSample:
        for attempt in range(self.retries + 1):
            try:
                return await self._read_once()
            except MeterUnreachableError:
                if attempt == self.retries:
                    raise
                await asyncio.sleep(self.retry_backoff_s * 2**attempt)
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def _read_once(self) -> MeterSample:
        raw: dict[str, list[int]] = {}
        relay: RelayState | None = None
        read_at: datetime | None = None
        for request in self.plan:
            if request.is_bits:
                bits = await self._read_bits(request.function_code, request.address, request.count)
                for spec in request.specs:
                    if spec.role == "relay":
                        relay = self._relay_state(bits[spec.address - request.address])
                continue
            registers = await self.link.read_registers(
                meter_id=self._meter_id,
                unit_id=self.unit_id,
                function_code=request.function_code,
                address=request.address,
                count=request.count,
                timeout_s=self.timeout_s,
            )
            for spec in request.specs:
                offset = spec.address - request.address
                raw[spec.role] = registers[offset : offset + spec.count]
                if spec.role == self.model.energy_role:
                    read_at = self._clock()
        assert read_at is not None  # the model guarantees an energy register
        return self._sample(raw, relay, read_at)

    def _sample(
        self, raw: dict[str, list[int]], relay: RelayState | None, read_at: datetime
    ) -> MeterSample:
        energy_kwh = Decimal(0)
        bands: dict[str, Decimal] = {}
        balance: Decimal | None = None
        extras: dict[str, Decimal] = {}
        for spec in self.model.registers:
            if spec.role not in raw:
                continue
            billing = spec.role in {self.model.energy_role, "balance"} or band_name(spec.role)
            value = self._decode(spec, raw[spec.role], billing=bool(billing))
            if value is None:
                continue
            if spec.role == self.model.energy_role:
                energy_kwh = value
            elif (band := band_name(spec.role)) is not None:
                bands[band] = value
            elif spec.role == "balance":
                balance = value
            else:
                extras[spec.role] = value
        return MeterSample(
            meter_id=self._meter_id,
            read_at=read_at.astimezone(UTC),
            energy_kwh=energy_kwh,
            bands_kwh=bands or None,
            balance=balance,
            relay=relay,
            source=self.source,
            extras=extras,
        )

    def _decode(self, spec: RegisterSpec, registers: list[int], *, billing: bool) -> Decimal | None:
        if codec.is_invalid(registers, spec):
            if billing:
                raise InvalidValueError(
                    meter_id=self._meter_id,
                    register=spec.name,
                    raw=codec.raw_unsigned(registers, spec),
                )
            logger.debug("meter %s: %s holds its invalid marker", self._meter_id, spec.name)
            return None
        return codec.decode(registers, spec)

    def _relay_state(self, bit: bool) -> RelayState:
        return "closed" if bit == self.model.relay_closed_value else "open"

    async def _read_bits(self, function_code: int, address: int, count: int) -> list[bool]:
        return await self.link.read_bits(
            meter_id=self._meter_id,
            unit_id=self.unit_id,
            function_code=function_code,
            address=address,
            count=count,
            timeout_s=self.timeout_s,
        )

    async def set_relay(self, *, open: bool) -> None:
        spec = self.model.relay
        if spec is None:
            msg = f"model {self.model.name} has no relay"
            raise UnsupportedOperationError(msg)
        wanted: RelayState = "open" if open else "closed"
        coil = self.model.relay_closed_value != open
        await self.link.write_coil(
            meter_id=self._meter_id,
            unit_id=self.unit_id,
            address=spec.address,
            value=coil,
            timeout_s=self.timeout_s,
        )
        deadline = asyncio.get_running_loop().time() + self.relay_confirm_timeout_s
        while True:
            bits = await self._read_bits(spec.function_code, spec.address, 1)
            state = self._relay_state(bits[0])
            if state == wanted:
                return
            if asyncio.get_running_loop().time() >= deadline:
                raise RelayNotConfirmedError(
                    meter_id=self._meter_id, wanted=wanted, read_back=state
                )
            await asyncio.sleep(min(0.1, self.relay_confirm_timeout_s / 10))

    async def write_balance(self, amount: Decimal) -> None:
        spec = self.model.balance
        if spec is None or not spec.writable:
            msg = f"model {self.model.name} has no writable balance register"
            raise UnsupportedOperationError(msg)
        await self.link.write_registers(
            meter_id=self._meter_id,
            unit_id=self.unit_id,
            address=spec.address,
            values=codec.encode_exact(amount, spec),
            timeout_s=self.timeout_s,
        )
        registers = await self.link.read_registers(
            meter_id=self._meter_id,
            unit_id=self.unit_id,
            function_code=spec.function_code,
            address=spec.address,
            count=spec.count,
            timeout_s=self.timeout_s,
        )
        read_back = codec.decode(registers, spec)
        if read_back != amount:
            msg = f"meter {self._meter_id}: wrote balance {amount}, reads back {read_back}"
            raise WriteNotConfirmedError(msg)
