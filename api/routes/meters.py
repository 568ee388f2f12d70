"""Meters: register on an account (with its driver config), read, list, declare an exchange,
record commissioning."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import FieldTech, NowDep, Operator, Reader, UowDep
from api.schemas import (
    ID_PATTERN,
    After,
    DecimalStr,
    Identifier,
    Instant,
    Kwh,
    Limit,
    MeterId,
    Page,
    PositiveDecimal,
    Strict,
    page,
)
from drivers.models import MODELS
from gateway.ledger import operations
from gateway.queries import meters as queries

router = APIRouter(tags=["meters"])
MODBUS = {"modbus-tcp", "modbus-rtu", "modbus-rtu-over-tcp"}


class DriverConfig(Strict):
    """How the gateway reaches the meter. Modbus needs a built-in register map and a unit id;
    TCP kinds a host, RTU a serial device."""

    protocol: Literal["mqtt", "tasmota", "modbus-tcp", "modbus-rtu", "modbus-rtu-over-tcp"]
    model: Annotated[
        str | None, Field(description="built-in register map, e.g. eastron-sdm120")
    ] = None
    host: Annotated[str | None, Field(max_length=255)] = None
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    device: Annotated[str | None, Field(max_length=255)] = None
    baud: Annotated[int | None, Field(ge=300, le=115200)] = None
    parity: Literal["N", "E", "O"] | None = None
    unit: Annotated[int | None, Field(ge=1, le=247)] = None
    tasmota_device: Annotated[str | None, Field(max_length=100)] = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.protocol in MODBUS:
            if self.model not in MODELS:
                known = ", ".join(sorted(MODELS))
                msg = f"model: unknown register map {self.model!r} (known: {known})"
                raise ValueError(msg)
            if self.unit is None:
                raise ValueError("unit: a Modbus meter needs its unit id")
        if self.protocol in {"modbus-tcp", "modbus-rtu-over-tcp"} and not self.host:
            raise ValueError("host: a Modbus TCP meter needs a host")
        if self.protocol == "modbus-rtu" and not self.device:
            raise ValueError("device: a Modbus RTU meter needs a serial device")
        if self.protocol == "tasmota" and not self.tasmota_device:
            raise ValueError("tasmota_device: a Tasmota meter needs its device name")
        return self


class CommissioningIn(Strict):
    """A commissioning run's outcome: `passed` and the JSON report that
    `prepaid-gateway commission --report FILE` wrote."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"passed": True, "report": {"meter": "eastron-sdm120", "checks": []}}
    ]})  # fmt: skip
    passed: bool
    report: dict[str, Any]


Serial = Annotated[str, Field(min_length=1, max_length=64, examples=["SDM120-0042"])]


class MeterIn(Strict):
    """A meter on an account. With `installed_at` and `install_reading_kwh` (together),
    charging starts from the installation reading; without them, from the first reading."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "M-1001", "account_id": "ACC-1001", "serial": "SDM120-0042", "multiplier": "1",
        "register_modulus_kwh": "100000", "max_power_kw": "24", "expected_interval_s": 900,
        "installed_at": "2024-06-01T00:00:00+00:00", "install_reading_kwh": "1520.25",
    }]})  # fmt: skip
    id: Identifier
    account_id: Identifier
    serial: Serial
    multiplier: Annotated[PositiveDecimal, Field(description="CT ratio x meter constant")] = (
        Decimal(1)
    )
    register_modulus_kwh: Annotated[
        PositiveDecimal | None, Field(description="where the register wraps to zero")
    ] = None
    max_power_kw: PositiveDecimal = Decimal(100)
    expected_interval_s: Annotated[int, Field(ge=1, le=86400 * 31)] = 900
    installed_at: Instant | None = None
    install_reading_kwh: Kwh | None = None
    driver: DriverConfig | None = None


class ExchangeOut(BaseModel):
    at: Instant
    old_serial: str
    removal_reading_kwh: Kwh
    new_serial: str
    opening_reading_kwh: Kwh


class MeterOut(BaseModel):
    id: str
    account_id: str
    serial: str
    multiplier: DecimalStr
    register_modulus_kwh: DecimalStr | None
    max_power_kw: DecimalStr
    expected_interval_s: int
    installed_at: Instant | None
    install_reading_kwh: Kwh | None
    relay: str = Field(description="relay state as last confirmed: closed | open")
    last_reading_at: Instant | None = Field(description="the newest accepted reading's time")
    last_reading_kwh: Kwh | None
    exchanges: list[ExchangeOut]
    driver: dict[str, Any] | None = Field(default=None, description="how the gateway reaches it")
    commissioning_status: str = Field(description="not_commissioned | passed | failed")
    commissioned_at: Instant | None = None
    commissioning_report: dict[str, Any] | None = None


class ExchangeIn(Strict):
    """The technician's record of a swap: the old register at removal, the new one at
    installation. Readings after `at` continue from the opening reading."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "at": "2024-06-03T10:30:00+00:00", "removal_reading_kwh": "1602.10",
        "new_serial": "SDM120-0077", "opening_reading_kwh": "0.00",
    }]})  # fmt: skip
    at: Instant
    removal_reading_kwh: Kwh
    new_serial: Serial
    opening_reading_kwh: Kwh


def _out(view: queries.MeterView) -> MeterOut:
    return MeterOut.model_validate(view, from_attributes=True)


@router.post("/meters", status_code=status.HTTP_201_CREATED, response_model=MeterOut)
def create_meter(body: MeterIn, uow: UowDep, _: Operator) -> MeterOut:
    """Register a meter on an existing account."""
    operations.register_meter(
        uow, body.id, account_id=body.account_id, serial=body.serial,
        multiplier=body.multiplier, register_modulus_kwh=body.register_modulus_kwh,
        max_power_kw=body.max_power_kw,
        expected_interval=timedelta(seconds=body.expected_interval_s),
        installed_at=body.installed_at, install_reading_kwh=body.install_reading_kwh,
        driver=body.driver.model_dump(exclude_none=True) if body.driver else None,
    )  # fmt: skip
    created = queries.get_meter(uow, body.id)
    uow.commit()
    return _out(created)


@router.get("/meters", response_model=Page[MeterOut])
def list_meters(
    uow: UowDep,
    _: Reader,
    account_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    after: After = None,
    limit: Limit = 100,
) -> Page[MeterOut]:
    """Meters in id order (optionally one account's), keyset-paginated by id."""
    found = [_out(v) for v in queries.list_meters(uow, account_id=account_id, after=after,
                                                    limit=limit)]  # fmt: skip
    return page(found, limit, lambda m: m.id)


@router.get("/meters/{meter_id}", response_model=MeterOut)
def read_meter(meter_id: MeterId, uow: UowDep, _: Reader) -> MeterOut:
    return _out(queries.get_meter(uow, meter_id))


@router.post("/meters/{meter_id}/exchange", status_code=status.HTTP_201_CREATED,
             response_model=MeterOut)  # fmt: skip
def exchange_meter(
    meter_id: MeterId, body: ExchangeIn, uow: UowDep, now: NowDep, _: FieldTech
) -> MeterOut:
    """Declare a meter exchange (field technician or operator)."""
    operations.exchange_meter(
        uow, meter_id, at=body.at, removal_reading_kwh=body.removal_reading_kwh,
        new_serial=body.new_serial, opening_reading_kwh=body.opening_reading_kwh, now=now,
    )  # fmt: skip
    changed = queries.get_meter(uow, meter_id)
    uow.commit()
    return _out(changed)


@router.post("/meters/{meter_id}/commissioning", response_model=MeterOut)
def record_commissioning(
    meter_id: MeterId, body: CommissioningIn, uow: UowDep, now: NowDep, _: FieldTech
) -> MeterOut:
    """Record a commissioning run (field technician or operator): status and report."""
    operations.record_commissioning(uow, meter_id, passed=body.passed, report=body.report,
                                    now=now)  # fmt: skip
    changed = queries.get_meter(uow, meter_id)
    uow.commit()
    return _out(changed)
