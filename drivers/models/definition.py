"""User meter models from YAML, validated with pydantic; errors name the key path.

A bad file fails with ``ModelDefinitionError("registers[3].type", "must be one of ...")``.
The schema is the YAML form of ``drivers.registers.MeterModel`` (see docs/modbus.md).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drivers.error_keys import key_path, reason
from drivers.errors import ModelDefinitionError
from drivers.registers import DataType, MeterModel, RegisterSpec, SerialDefaults


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _decimal(value: object) -> Decimal:
    """YAML numbers and strings to an exact Decimal (``0.01`` -> ``Decimal("0.01")``)."""
    msg = "must be a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(msg)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(msg) from exc
    if not number.is_finite():
        raise ValueError(msg)
    return number


class RegisterDefinition(_Strict):
    name: str = Field(min_length=1)
    role: str
    function_code: Literal[1, 2, 3, 4]
    address: int = Field(ge=0, le=0xFFFF)
    type: DataType
    scale: Decimal = Decimal(1)
    unit: str = ""
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    invalid_raw: int | None = None
    resolution: Decimal | None = None
    writable: bool = False

    _scale = field_validator("scale", "resolution", mode="before")(
        lambda value: None if value is None else _decimal(value)
    )


class SerialDefinition(_Strict):
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1


class ModelDefinition(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    energy_role: str = "energy_import_kwh"
    unit_id: int = Field(default=1, ge=1, le=247)
    serial: SerialDefinition = SerialDefinition()
    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    max_gap_registers: int = Field(default=0, ge=0, le=124)
    relay_closed_value: bool = True
    registers: list[RegisterDefinition] = Field(min_length=1)


def model_from_mapping(data: object) -> MeterModel:
    """Validate a parsed YAML mapping and build the model."""
    try:
        definition = ModelDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ModelDefinitionError(key_path(first["loc"]), reason(first)) from exc
    specs = []
    for index, register in enumerate(definition.registers):
        fields = register.model_dump(exclude={"type"})
        try:
            specs.append(RegisterSpec(data_type=register.type, **fields))
        except ModelDefinitionError as exc:
            raise ModelDefinitionError(f"registers[{index}].{exc.key}", exc.reason) from exc
    return MeterModel(
        name=definition.name,
        description=definition.description,
        registers=tuple(specs),
        energy_role=definition.energy_role,
        unit_id=definition.unit_id,
        serial=SerialDefaults(**definition.serial.model_dump()),
        max_registers_per_request=definition.max_registers_per_request,
        max_gap_registers=definition.max_gap_registers,
        relay_closed_value=definition.relay_closed_value,
    )


def load_model_file(path: Path) -> MeterModel:
    """Read one YAML model file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelDefinitionError(str(path), f"not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ModelDefinitionError(str(path), f"cannot read: {exc}") from exc
    return model_from_mapping(data)
