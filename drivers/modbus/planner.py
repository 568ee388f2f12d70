"""Request planning: read a model's registers in the fewest requests it allows.

Registers of the same function code are merged while the merged request stays within
the model's ``max_registers_per_request`` and the hole between two registers is at most
``max_gap_registers`` (some meters answer an exception when a read crosses an unmapped
address, so the default gap is 0). Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.registers import BIT_FUNCTION_CODES, MeterModel, RegisterSpec

MAX_BITS_PER_REQUEST = 2000
BITS_PER_CHARACTER = 10  # 8N1: start + 8 data + stop
REQUEST_BYTES = 8  # unit, FC, address(2), count(2), CRC(2)
REPLY_OVERHEAD_BYTES = 5  # unit, FC, byte count, CRC(2)
GAP_CHARACTERS = 7  # 3.5 characters of silence after the request and after the reply


@dataclass(frozen=True, slots=True)
class ReadRequest:
    function_code: int
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]

    @property
    def is_bits(self) -> bool:
        return self.function_code in BIT_FUNCTION_CODES

    @property
    def rtu_characters(self) -> int:
        """Characters on an RTU bus for this request and its reply, gaps included."""
        payload = math.ceil(self.count / 8) if self.is_bits else 2 * self.count
        return REQUEST_BYTES + REPLY_OVERHEAD_BYTES + payload + GAP_CHARACTERS


def plan_reads(
    model: MeterModel, *, specs: tuple[RegisterSpec, ...] | None = None, max_gap: int | None = None
) -> tuple[ReadRequest, ...]:
    """The requests that read ``specs`` (default: all the model's registers)."""
    chosen = model.registers if specs is None else specs
    gap = model.max_gap_registers if max_gap is None else max_gap
    requests: list[ReadRequest] = []
    for function_code in sorted({spec.function_code for spec in chosen}):
        same = sorted(
            (spec for spec in chosen if spec.function_code == function_code),
            key=lambda spec: spec.address,
        )
        limit = (
            MAX_BITS_PER_REQUEST
            if function_code in BIT_FUNCTION_CODES
            else model.max_registers_per_request
        )
        requests.extend(_merge(function_code, same, limit=limit, max_gap=gap))
    return tuple(requests)


def _merge(
    function_code: int, specs: list[RegisterSpec], *, limit: int, max_gap: int
) -> list[ReadRequest]:
    out: list[ReadRequest] = []
    group: list[RegisterSpec] = []
    for spec in specs:
        if group:
            start, end = group[0].address, max(s.end for s in group)
            fits = spec.address - end <= max_gap and max(end, spec.end) - start <= limit
            if not fits:
                out.append(_request(function_code, group))
                group = []
        group.append(spec)
    if group:
        out.append(_request(function_code, group))
    return out


def _request(function_code: int, group: list[RegisterSpec]) -> ReadRequest:
    start = group[0].address
    end = max(spec.end for spec in group)
    return ReadRequest(function_code, start, end - start, tuple(group))


def minimum_requests(model: MeterModel) -> int:
    """Lower bound: requests needed if the meter let every read cross unmapped addresses."""
    return len(plan_reads(model, max_gap=0xFFFF))


def rtu_bus_time_s(requests: tuple[ReadRequest, ...], *, baudrate: int) -> float:
    """Wire time of these requests on an RS-485 bus (8N1), before meter turnaround."""
    characters = sum(request.rtu_characters for request in requests)
    return characters * BITS_PER_CHARACTER / baudrate
