"""One Modbus port or socket, shared by every meter behind it.

A ``ModbusLink`` owns one pymodbus client and one ``asyncio.Lock``: a bus carries one
request at a time, whatever the number of meters (unit ids) on it. It is the edge:
pymodbus and OS errors are translated here, once, into ``drivers.errors`` types.

pymodbus' own retries and background reconnect are switched off; the link reconnects
on the next request after a drop (no more often than ``reconnect_backoff_s``, doubling
up to ``reconnect_backoff_max_s``), and each request has the caller's timeout. On a TCP
socket a timed-out request closes the socket (the next request reconnects at once), so
a late reply can never be taken for the answer to the next request. A serial port stays
open: RTU replies carry the unit id, and every reply's length is checked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from drivers.errors import DecodeError, MeterUnreachableError, ModbusExceptionReplyError
from drivers.registers import SerialDefaults

_LINK_TIMEOUT_S = 30.0  # pymodbus' own ceiling; each request uses the caller's timeout
_NEVER_DISCONNECT_ON_SILENCE = 1 << 30  # a dead unit must not close a shared socket


@dataclass(frozen=True, slots=True)
class LinkTiming:
    connect_timeout_s: float = 3.0
    reconnect_backoff_s: float = 0.5
    reconnect_backoff_max_s: float = 30.0


class ModbusLink:
    """A Modbus TCP socket, RTU serial port, or RTU-over-TCP socket."""

    def __init__(
        self,
        client: AsyncModbusTcpClient | AsyncModbusSerialClient,
        *,
        description: str,
        timing: LinkTiming | None = None,
        drop_on_timeout: bool = True,
    ) -> None:
        self._client = client
        self._drop_on_timeout = drop_on_timeout
        self._client.set_max_no_responses(_NEVER_DISCONNECT_ON_SILENCE)
        self.description = description
        self.lock = asyncio.Lock()
        self.timing = timing or LinkTiming()
        self._backoff_s = self.timing.reconnect_backoff_s
        self._next_connect_at = 0.0
        self.requests = 0
        self.reconnects = 0

    @classmethod
    def tcp(cls, host: str, port: int, timing: LinkTiming | None = None) -> ModbusLink:
        client = AsyncModbusTcpClient(
            host, port=port, timeout=_LINK_TIMEOUT_S, retries=0, reconnect_delay=0
        )
        return cls(client, description=f"modbus-tcp://{host}:{port}", timing=timing)

    @classmethod
    def rtu_over_tcp(cls, host: str, port: int, timing: LinkTiming | None = None) -> ModbusLink:
        client = AsyncModbusTcpClient(
            host,
            port=port,
            framer=FramerType.RTU,
            timeout=_LINK_TIMEOUT_S,
            retries=0,
            reconnect_delay=0,
        )
        return cls(client, description=f"modbus-rtu-tcp://{host}:{port}", timing=timing)

    @classmethod
    def serial(
        cls, port: str, serial: SerialDefaults | None = None, timing: LinkTiming | None = None
    ) -> ModbusLink:
        line = serial or SerialDefaults()
        client = AsyncModbusSerialClient(
            port,
            framer=FramerType.RTU,
            baudrate=line.baudrate,
            bytesize=line.bytesize,
            parity=line.parity,
            stopbits=line.stopbits,
            timeout=_LINK_TIMEOUT_S,
            retries=0,
            reconnect_delay=0,
        )
        description = (
            f"modbus-rtu://{port}?{line.baudrate}-{line.bytesize}{line.parity}{line.stopbits}"
        )
        return cls(client, description=description, timing=timing)

    @property
    def connected(self) -> bool:
        return self._client.connected

    def close(self) -> None:
        self._client.close()

    async def read_registers(
        self,
        *,
        meter_id: str,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        timeout_s: float,
    ) -> list[int]:
        call = (
            self._client.read_holding_registers
            if function_code == 3
            else self._client.read_input_registers
        )
        reply = await self._execute(
            lambda: call(address, count=count, device_id=unit_id),
            meter_id=meter_id,
            unit_id=unit_id,
            function_code=function_code,
            address=address,
            timeout_s=timeout_s,
        )
        registers = list(reply.registers)
        if len(registers) != count:
            got = len(registers)
            msg = f"meter {meter_id}: asked {count} registers at 0x{address:04X}, got {got}"
            raise DecodeError(msg)
        return registers

    async def read_bits(
        self,
        *,
        meter_id: str,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        timeout_s: float,
    ) -> list[bool]:
        call = self._client.read_coils if function_code == 1 else self._client.read_discrete_inputs
        reply = await self._execute(
            lambda: call(address, count=count, device_id=unit_id),
            meter_id=meter_id,
            unit_id=unit_id,
            function_code=function_code,
            address=address,
            timeout_s=timeout_s,
        )
        if len(reply.bits) < count:
            msg = f"meter {meter_id}: asked {count} bits at 0x{address:04X}, got {len(reply.bits)}"
            raise DecodeError(msg)
        return list(reply.bits[:count])

    async def write_coil(
        self, *, meter_id: str, unit_id: int, address: int, value: bool, timeout_s: float
    ) -> None:
        await self._execute(
            lambda: self._client.write_coil(address, value, device_id=unit_id),
            meter_id=meter_id,
            unit_id=unit_id,
            function_code=5,
            address=address,
            timeout_s=timeout_s,
        )

    async def write_registers(
        self, *, meter_id: str, unit_id: int, address: int, values: list[int], timeout_s: float
    ) -> None:
        await self._execute(
            lambda: self._client.write_registers(address, values, device_id=unit_id),
            meter_id=meter_id,
            unit_id=unit_id,
            function_code=16,
            address=address,
            timeout_s=timeout_s,
        )

    async def _execute(
        self,
        request: Callable[[], Awaitable[ModbusPDU]],
        *,
        meter_id: str,
        unit_id: int,
        function_code: int,
        address: int,
        timeout_s: float,
    ) -> ModbusPDU:
        def unreachable(reason: str) -> MeterUnreachableError:
            return MeterUnreachableError(
                meter_id=meter_id, unit_id=unit_id, port=self.description, reason=reason
            )

        async with self.lock:
            await self._ensure_connected(unreachable)
            self.requests += 1
            try:
                reply = await asyncio.wait_for(request(), timeout=timeout_s)
            except TimeoutError as exc:
                if self._drop_on_timeout:
                    # a late reply must never be taken for the next request's answer
                    self._client.close()
                raise unreachable(f"no answer within {timeout_s} s") from exc
            except ModbusException as exc:
                raise unreachable(f"{type(exc).__name__}: {exc}") from exc
            except OSError as exc:
                raise unreachable(f"link error: {exc}") from exc
        if reply.isError():
            raise ModbusExceptionReplyError(
                meter_id=meter_id,
                unit_id=unit_id,
                function_code=function_code,
                address=address,
                exception_code=int(getattr(reply, "exception_code", 0)),
            )
        return reply

    async def _ensure_connected(self, unreachable: Callable[[str], MeterUnreachableError]) -> None:
        if self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_connect_at:
            wait_s = self._next_connect_at - now
            raise unreachable(f"link down, next reconnect attempt in {wait_s:.1f} s")
        try:
            ok = await asyncio.wait_for(
                self._client.connect(), timeout=self.timing.connect_timeout_s
            )
        except (TimeoutError, OSError, ModbusException) as exc:
            self._schedule_reconnect()
            raise unreachable(f"connect failed: {exc!r}") from exc
        if not ok:
            self._schedule_reconnect()
            raise unreachable("connect refused")
        self.reconnects += 1
        self._backoff_s = self.timing.reconnect_backoff_s

    def _schedule_reconnect(self) -> None:
        self._next_connect_at = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.timing.reconnect_backoff_max_s)
