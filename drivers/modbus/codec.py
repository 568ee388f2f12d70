"""Registers <-> values, pure: word order, byte order, scale, invalid markers.

How a float register becomes a ``Decimal``: a float32 becomes the *shortest* decimal
string that reads back as the same 32-bit value (``1234.56`` rather than the binary
expansion ``1234.56005859375``); a float64 becomes ``Decimal(repr(value))``. The result
is then multiplied by the spec's exact ``scale`` and, if the spec declares a
``resolution``, rounded half-even to it. Integer registers are exact:
``Decimal(raw) * scale``. NaN and infinities are reported as invalid values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

from drivers.errors import DecodeError, EncodeError
from drivers.registers import DataType, RegisterSpec

_STRUCT: dict[DataType, str] = {
    DataType.U16: "H",
    DataType.S16: "h",
    DataType.U32: "I",
    DataType.S32: "i",
    DataType.U64: "Q",
    DataType.S64: "q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}
_FLOATS = frozenset({DataType.FLOAT32, DataType.FLOAT64})
_ENERGY_ROUNDING = ROUND_DOWN  # a counter never shows energy it has not yet accumulated


def registers_to_bytes(registers: Sequence[int], spec: RegisterSpec) -> bytes:
    """Reassemble the value's big-endian bytes from wire registers."""
    if len(registers) != spec.count:
        msg = f"{spec.name}: expected {spec.count} registers, got {len(registers)}"
        raise DecodeError(msg)
    words = list(registers) if spec.word_order == "big" else list(reversed(registers))
    out = bytearray()
    for word in words:
        if not 0 <= word <= 0xFFFF:
            msg = f"{spec.name}: register value {word} is not 16-bit"
            raise DecodeError(msg)
        pair = word.to_bytes(2, "big")
        out += pair if spec.byte_order == "big" else pair[::-1]
    return bytes(out)


def bytes_to_registers(data: bytes, spec: RegisterSpec) -> list[int]:
    words = []
    for index in range(0, len(data), 2):
        pair = data[index : index + 2]
        words.append(int.from_bytes(pair if spec.byte_order == "big" else pair[::-1], "big"))
    return words if spec.word_order == "big" else list(reversed(words))


def raw_unsigned(registers: Sequence[int], spec: RegisterSpec) -> int:
    """The register bits as one unsigned integer (what ``invalid_raw`` is compared with)."""
    return int.from_bytes(registers_to_bytes(registers, spec), "big")


def decode_raw(registers: Sequence[int], spec: RegisterSpec) -> int | float:
    """The value as the meter stores it, before scaling."""
    data = registers_to_bytes(registers, spec)
    value: int | float = struct.unpack(">" + _STRUCT[spec.data_type], data)[0]
    return value


def shortest_float32_decimal(value: float) -> Decimal:
    """The shortest decimal that packs back into the same float32 bits."""
    target = struct.pack(">f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        try:
            candidate = struct.pack(">f", float(text))
        except OverflowError:  # rounded past the largest float32
            continue
        if candidate == target:
            # "2e+02" -> 200: whole numbers without exponent notation
            return Decimal(format(Decimal(text), "f"))
    return Decimal(repr(value))  # pragma: no cover - 9 digits always round-trip


def is_invalid(registers: Sequence[int], spec: RegisterSpec) -> bool:
    if spec.invalid_raw is not None and raw_unsigned(registers, spec) == spec.invalid_raw:
        return True
    if spec.data_type in _FLOATS:
        raw = decode_raw(registers, spec)
        return math.isnan(raw) or math.isinf(raw)
    return False


def decode(registers: Sequence[int], spec: RegisterSpec) -> Decimal:
    """Decode and scale; the caller checks ``is_invalid`` first."""
    raw = decode_raw(registers, spec)
    if isinstance(raw, float):
        if math.isnan(raw) or math.isinf(raw):
            msg = f"{spec.name}: {raw} is not a number"
            raise DecodeError(msg)
        number = (
            shortest_float32_decimal(raw)
            if spec.data_type is DataType.FLOAT32
            else Decimal(repr(raw))
        )
    else:
        number = Decimal(raw)
    value = number * spec.scale
    if spec.resolution is not None:
        value = value.quantize(spec.resolution, rounding=ROUND_HALF_EVEN)
    return value


def encode(value: Decimal, spec: RegisterSpec, *, wrap: bool = False) -> list[int]:
    """Encode a value (in the role's unit) into wire registers.

    Energy roles round down to the register's step, others half-even. ``wrap=True``
    lets an unsigned counter roll over modulo its width instead of raising.
    """
    if spec.data_type is DataType.BOOL:
        msg = f"{spec.name}: a coil is not encoded into registers"
        raise EncodeError(msg)
    fmt = ">" + _STRUCT[spec.data_type]
    scaled = value / spec.scale
    if spec.data_type in _FLOATS:
        return bytes_to_registers(struct.pack(fmt, float(scaled)), spec)
    rounding = _ENERGY_ROUNDING if _is_energy(spec.role) else ROUND_HALF_EVEN
    try:
        raw = int(scaled.to_integral_value(rounding=rounding))
    except InvalidOperation as exc:
        msg = f"{spec.name}: cannot encode {value}"
        raise EncodeError(msg) from exc
    bits = spec.count * 16
    if wrap and spec.data_type.value.startswith("u"):
        raw %= 1 << bits
    try:
        data = struct.pack(fmt, raw)
    except struct.error as exc:
        msg = f"{spec.name}: {value} does not fit {spec.data_type} at scale {spec.scale}"
        raise EncodeError(msg) from exc
    return bytes_to_registers(data, spec)


def encode_exact(value: Decimal, spec: RegisterSpec) -> list[int]:
    """Encode a value that must be representable exactly (e.g. a balance write)."""
    scaled = value / spec.scale
    if spec.data_type not in _FLOATS and scaled != scaled.to_integral_value():
        msg = f"{spec.name}: {value} is not a multiple of the register step {spec.scale}"
        raise EncodeError(msg)
    return encode(value, spec)


def _is_energy(role: str) -> bool:
    return role.endswith("_kwh") or role.startswith("band:")
