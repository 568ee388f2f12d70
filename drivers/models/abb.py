"""ABB B21 / B23: holding registers (FC3), big-endian integers; all bits set = invalid.

The serial line defaults here are the project's (9600 8N1, id 1); DOMAIN.md does not
list ABB's, so check the meter's communication menu when commissioning.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.registers import DataType, MeterModel, RegisterSpec

_ALL_BITS_32 = 0xFFFF_FFFF
_ALL_BITS_64 = 0xFFFF_FFFF_FFFF_FFFF


def _reg(
    name: str, role: str, address: int, data_type: DataType, *, scale: str, unit: str
) -> RegisterSpec:
    invalid = _ALL_BITS_64 if data_type is DataType.U64 else _ALL_BITS_32
    return RegisterSpec(
        name=name,
        role=role,
        function_code=3,
        address=address,
        data_type=data_type,
        scale=Decimal(scale),
        unit=unit,
        invalid_raw=invalid,
    )


B2X = MeterModel(
    name="abb-b2x",
    description="ABB B21 (single-phase) / B23 (three-phase) meter",
    registers=(
        _reg("import_energy", "energy_import_kwh", 0x5000, DataType.U64, scale="0.01", unit="kWh"),
        _reg("export_energy", "energy_export_kwh", 0x5004, DataType.U64, scale="0.01", unit="kWh"),
        _reg("voltage_l1", "voltage_v", 0x5B00, DataType.U32, scale="0.1", unit="V"),
        _reg("current_l1", "current_a", 0x5B0C, DataType.U32, scale="0.01", unit="A"),
        _reg("total_power", "power_w", 0x5B14, DataType.S32, scale="0.01", unit="W"),
    ),
)
