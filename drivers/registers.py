"""Meter models as data: typed register maps shared by the drivers and the simulators.

A ``RegisterSpec`` says where one quantity lives (function code, 0-based wire address),
how it is encoded (type, word order, byte order), how to scale it into the unit its
``role`` names, and which raw value the meter uses for "invalid". A ``MeterModel`` is a
name, its registers and its defaults. Nothing here does I/O.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from drivers.errors import ModelDefinitionError


class DataType(StrEnum):
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    U64 = "u64"
    S64 = "s64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOL = "bool"  # one coil or discrete input


REGISTER_COUNT: dict[DataType, int] = {
    DataType.U16: 1,
    DataType.S16: 1,
    DataType.U32: 2,
    DataType.S32: 2,
    DataType.U64: 4,
    DataType.S64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.BOOL: 1,
}

Order = Literal["big", "little"]

REGISTER_FUNCTION_CODES = frozenset({3, 4})
BIT_FUNCTION_CODES = frozenset({1, 2})

#: Roles whose unit is in the name; ``band:<name>`` (kWh) is also accepted.
ROLES = frozenset(
    {
        "energy_import_kwh",
        "energy_export_kwh",
        "energy_total_kwh",
        "voltage_v",
        "voltage_l2_v",
        "voltage_l3_v",
        "current_a",
        "current_l2_a",
        "current_l3_a",
        "power_w",
        "frequency_hz",
        "balance",
        "relay",
        "serial_number",
        "map_version",
        "clock_unix_s",
    }
)
_BAND_ROLE = re.compile(r"^band:[a-z][a-z0-9_]*$")


def is_known_role(role: str) -> bool:
    return role in ROLES or bool(_BAND_ROLE.match(role))


def band_name(role: str) -> str | None:
    """``"band:peak"`` -> ``"peak"``; any other role -> ``None``."""
    return role.removeprefix("band:") if role.startswith("band:") else None


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One quantity in a meter's register map.

    ``value = raw * scale`` (then quantized to ``resolution`` if given). ``invalid_raw``
    is compared with the raw register bits read as an unsigned integer (ABB: all bits set).
    """

    name: str
    role: str
    function_code: int
    address: int
    data_type: DataType
    scale: Decimal = Decimal(1)
    unit: str = ""
    word_order: Order = "big"
    byte_order: Order = "big"
    invalid_raw: int | None = None
    resolution: Decimal | None = None
    writable: bool = False

    def __post_init__(self) -> None:
        # Keys are field names; the model loader prefixes them with ``registers[i].``.
        if not is_known_role(self.role):
            reason = f"unknown role {self.role!r} (known: {', '.join(sorted(ROLES))}, band:<name>)"
            raise ModelDefinitionError("role", reason)
        is_bit = self.data_type is DataType.BOOL
        allowed = BIT_FUNCTION_CODES if is_bit else REGISTER_FUNCTION_CODES
        if self.function_code not in allowed:
            reason = f"{self.data_type} must be read with function code {sorted(allowed)}"
            raise ModelDefinitionError("function_code", reason)
        if not 0 <= self.address <= 0xFFFF - self.count + 1:
            raise ModelDefinitionError("address", f"out of range: {self.address}")
        if self.scale <= 0:
            raise ModelDefinitionError("scale", "must be positive")

    @property
    def count(self) -> int:
        """Registers (or bits) this value occupies on the wire."""
        return REGISTER_COUNT[self.data_type]

    @property
    def end(self) -> int:
        """One past the last address."""
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class SerialDefaults:
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    bytesize: int = 8
    stopbits: int = 1


@dataclass(frozen=True, slots=True)
class MeterModel:
    """A meter model: its register map and how to talk to it."""

    name: str
    registers: tuple[RegisterSpec, ...]
    description: str = ""
    energy_role: str = "energy_import_kwh"
    unit_id: int = 1
    serial: SerialDefaults = field(default_factory=SerialDefaults)
    max_registers_per_request: int = 125
    max_gap_registers: int = 0
    relay_closed_value: bool = True

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.registers]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise ModelDefinitionError(f"registers[{index}].name", f"duplicate {name!r}")
        if self.find(self.energy_role) is None:
            reason = f"no register has role {self.energy_role!r}"
            raise ModelDefinitionError("energy_role", reason)
        if not 1 <= self.max_registers_per_request <= 125:
            raise ModelDefinitionError("max_registers_per_request", "must be 1..125")
        for index, spec in enumerate(self.registers):
            if spec.count > self.max_registers_per_request:
                reason = f"needs {spec.count} registers, more than max_registers_per_request"
                raise ModelDefinitionError(f"registers[{index}].type", reason)
        self._check_overlaps()

    def _check_overlaps(self) -> None:
        by_space: dict[int, list[tuple[int, RegisterSpec]]] = {}
        for index, spec in enumerate(self.registers):
            by_space.setdefault(_space(spec.function_code), []).append((index, spec))
        for specs in by_space.values():
            ordered = sorted(specs, key=lambda item: item[1].address)
            for (_, left), (index, right) in itertools.pairwise(ordered):
                if right.address < left.end:
                    reason = f"overlaps {left.name} at 0x{right.address:04X}"
                    raise ModelDefinitionError(f"registers[{index}].address", reason)

    def find(self, role: str) -> RegisterSpec | None:
        return next((spec for spec in self.registers if spec.role == role), None)

    @property
    def relay(self) -> RegisterSpec | None:
        return self.find("relay")

    @property
    def balance(self) -> RegisterSpec | None:
        return self.find("balance")

    @property
    def band_registers(self) -> tuple[RegisterSpec, ...]:
        return tuple(spec for spec in self.registers if band_name(spec.role))


def _space(function_code: int) -> int:
    """FC3 and FC16 share holding registers; FC1/FC5 share coils."""
    return {1: 1, 5: 1, 2: 2, 3: 3, 16: 3, 4: 4}[function_code]
