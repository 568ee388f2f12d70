"""Chint DDSU666 (single-phase, FC4) and DTSU666 (three-phase, FC3); float32 ABCD.

DTSU666 stores voltage, current, power and frequency as float32 in 0.1 V, 0.001 A,
0.1 W and 0.01 Hz; the scales below turn them into V, A, W and Hz. Its energy registers
are at 0x101E / 0x1028, but some units answer at 0x401E / 0x4028: that variant is the
separate model ``chint-dtsu666-4000``.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.registers import DataType, MeterModel, RegisterSpec


def _f32(
    name: str, role: str, function_code: int, address: int, *, unit: str, scale: str = "1"
) -> RegisterSpec:
    return RegisterSpec(
        name=name,
        role=role,
        function_code=function_code,
        address=address,
        data_type=DataType.FLOAT32,
        unit=unit,
        scale=Decimal(scale),
    )


DDSU666 = MeterModel(
    name="chint-ddsu666",
    description="Chint DDSU666 single-phase meter",
    registers=(
        _f32("voltage", "voltage_v", 4, 0x2000, unit="V"),
        _f32("current", "current_a", 4, 0x2002, unit="A"),
        _f32("active_power", "power_w", 4, 0x2004, unit="W", scale="1000"),  # the meter counts kW
        _f32("frequency", "frequency_hz", 4, 0x200E, unit="Hz"),
        _f32("import_energy", "energy_import_kwh", 4, 0x4000, unit="kWh"),
        _f32("export_energy", "energy_export_kwh", 4, 0x400A, unit="kWh"),
    ),
)


def _dtsu666(name: str, import_address: int, export_address: int, description: str) -> MeterModel:
    return MeterModel(
        name=name,
        description=description,
        registers=(
            _f32("voltage_a", "voltage_v", 3, 0x2006, unit="V", scale="0.1"),
            _f32("voltage_b", "voltage_l2_v", 3, 0x2008, unit="V", scale="0.1"),
            _f32("voltage_c", "voltage_l3_v", 3, 0x200A, unit="V", scale="0.1"),
            _f32("current_a", "current_a", 3, 0x200C, unit="A", scale="0.001"),
            _f32("current_b", "current_l2_a", 3, 0x200E, unit="A", scale="0.001"),
            _f32("current_c", "current_l3_a", 3, 0x2010, unit="A", scale="0.001"),
            _f32("total_power", "power_w", 3, 0x2012, unit="W", scale="0.1"),
            _f32("frequency", "frequency_hz", 3, 0x2044, unit="Hz", scale="0.01"),
            _f32("import_energy", "energy_import_kwh", 3, import_address, unit="kWh"),
            _f32("export_energy", "energy_export_kwh", 3, export_address, unit="kWh"),
        ),
    )


DTSU666 = _dtsu666("chint-dtsu666", 0x101E, 0x1028, "Chint DTSU666 three-phase meter")
DTSU666_4000 = _dtsu666(
    "chint-dtsu666-4000",
    0x401E,
    0x4028,
    "Chint DTSU666 variant answering energy at 0x401E / 0x4028",
)
