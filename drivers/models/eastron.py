"""Eastron SDM120 and SDM630: input registers (FC4), float32, big-endian words and bytes.

Eastron meters answer an exception to a read of more than 30 parameters (60 registers)
in one request (the limit Eastron's manuals state); the planner stays within it.
"""

from __future__ import annotations

from drivers.registers import DataType, MeterModel, RegisterSpec, SerialDefaults


def _f32(name: str, role: str, address: int, unit: str) -> RegisterSpec:
    return RegisterSpec(
        name=name,
        role=role,
        function_code=4,
        address=address,
        data_type=DataType.FLOAT32,
        unit=unit,
    )


SDM120 = MeterModel(
    name="eastron-sdm120",
    description="Eastron SDM120 single-phase DIN-rail meter",
    registers=(
        _f32("voltage", "voltage_v", 0x0000, "V"),
        _f32("current", "current_a", 0x0006, "A"),
        _f32("active_power", "power_w", 0x000C, "W"),
        _f32("frequency", "frequency_hz", 0x0046, "Hz"),
        _f32("import_energy", "energy_import_kwh", 0x0048, "kWh"),
        _f32("export_energy", "energy_export_kwh", 0x004A, "kWh"),
        _f32("total_energy", "energy_total_kwh", 0x0156, "kWh"),
    ),
    serial=SerialDefaults(baudrate=2400),
    max_registers_per_request=60,
)

SDM630 = MeterModel(
    name="eastron-sdm630",
    description="Eastron SDM630 three-phase meter",
    registers=(
        _f32("voltage_l1", "voltage_v", 0x0000, "V"),
        _f32("voltage_l2", "voltage_l2_v", 0x0002, "V"),
        _f32("voltage_l3", "voltage_l3_v", 0x0004, "V"),
        _f32("current_l1", "current_a", 0x0006, "A"),
        _f32("current_l2", "current_l2_a", 0x0008, "A"),
        _f32("current_l3", "current_l3_a", 0x000A, "A"),
        _f32("total_power", "power_w", 0x0034, "W"),
        _f32("frequency", "frequency_hz", 0x0046, "Hz"),
        _f32("import_energy", "energy_import_kwh", 0x0048, "kWh"),
        _f32("export_energy", "energy_export_kwh", 0x004A, "kWh"),
    ),
    max_registers_per_request=60,
)
