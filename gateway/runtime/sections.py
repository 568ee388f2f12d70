"""The sections of the gateway configuration (pydantic models; unknown keys refused).

Assembled into one `GatewayConfig` in `gateway.runtime.config`; reference: docs/configuration.md.
"""

from __future__ import annotations

import os
from datetime import date, time
from decimal import Decimal
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from drivers.models import MODELS
from drivers.mqtt import Topics
from gateway.storage.db import DEFAULT_URL

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
Amount = Annotated[Decimal, Field(ge=0)]


def _clock_time(value: object) -> object:
    # unquoted 18:00 is the integer 1080 to YAML 1.1 (base 60): demand text
    if isinstance(value, str | time):
        return value
    msg = f"write a local time as quoted text, e.g. '18:00' (got {value!r})"
    raise ValueError(msg)


LocalTime = Annotated[time, BeforeValidator(_clock_time)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown time zone {name!r} (use an IANA name, e.g. Europe/London)"
        raise ValueError(msg) from exc
    return name


class DatabaseSection(Section):
    url: str = DEFAULT_URL

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError as exc:
            msg = f"not a database URL: {exc}"
            raise ValueError(msg) from exc
        if backend not in {"sqlite", "postgresql"}:
            msg = f"unsupported database {backend!r} (sqlite or postgresql)"
            raise ValueError(msg)
        return value


class BatchSection(Section):
    max_messages: Annotated[int, Field(ge=1)] = 100
    max_wait_ms: Annotated[int, Field(ge=0)] = 50
    queue_size: Annotated[int, Field(ge=1)] = 1000
    sink_retry_delay_s: Seconds = 1.0


class MqttSection(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 1883
    keepalive_s: Annotated[int, Field(ge=5)] = 30
    client_id: Annotated[str, Field(min_length=1)] = "prepaid-gateway"
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    prefix: str = ""
    qos: Literal[1] = 1  # the ledger acks after commit: QoS 1 is the contract
    shared_group: str | None = None
    batch: BatchSection = Field(default_factory=BatchSection)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        Topics(value)  # its ValueError names the rule
        return value

    @field_validator("shared_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not value.isidentifier():
            msg = f"must be a simple name (letters, digits, _), got {value!r}"
            raise ValueError(msg)
        return value


class MeterSection(Section):
    meter_id: Annotated[str, Field(min_length=1, max_length=64)]
    unit: Annotated[int, Field(ge=0, le=247)]
    model: str
    poll_interval_s: Seconds = 60.0

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value not in MODELS:
            msg = f"unknown model {value!r} (known: {', '.join(sorted(MODELS))})"
            raise ValueError(msg)
        return value


class ModbusLinkSection(Section):
    kind: Literal["tcp", "rtu", "rtu-over-tcp"]
    host: str | None = None
    port: Port | None = None
    device: str | None = None
    baud: Annotated[int | None, Field(gt=0)] = None
    parity: Literal["N", "E", "O"] | None = None
    timeout_s: Seconds = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    meters: list[MeterSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _address(self) -> Self:
        if self.kind == "rtu":
            if self.device is None:
                msg = "an rtu link needs `device` (e.g. /dev/ttyUSB0)"
                raise ValueError(msg)
            if self.host is not None or self.port is not None:
                msg = "an rtu link takes `device`, not host/port"
                raise ValueError(msg)
        else:
            if self.host is None:
                msg = f"a {self.kind} link needs `host`"
                raise ValueError(msg)
            if self.device is not None or self.baud is not None or self.parity is not None:
                msg = f"a {self.kind} link takes host/port, not device/baud/parity"
                raise ValueError(msg)
        return self


class ModbusSection(Section):
    links: list[ModbusLinkSection] = []

    @model_validator(mode="after")
    def _unique_meters(self) -> Self:
        seen: set[str] = set()
        for link in self.links:
            for meter in link.meters:
                if meter.meter_id in seen:
                    msg = f"meter_id {meter.meter_id!r} appears twice"
                    raise ValueError(msg)
                seen.add(meter.meter_id)
        return self


class TasmotaDeviceSection(Section):
    meter_id: str = Field(min_length=1)
    timezone: Annotated[str, Field(min_length=1)] = "UTC"

    _tz = field_validator("timezone")(_zone)


class TasmotaSection(Section):
    devices: dict[str, TasmotaDeviceSection] = {}


class AlertLevelSection(Section):
    kind: Literal["money", "days"]
    threshold: Amount
    margin: Amount = Decimal(0)


class WebhookSection(Section):
    url: Annotated[str, Field(pattern=r"^https?://")]
    secret: str | None = None
    secret_env: str | None = None  # name of the environment variable holding the secret
    events: list[str] | None = None  # None: every event

    @model_validator(mode="after")
    def _secret(self) -> Self:
        if (self.secret is None) == (self.secret_env is None):
            msg = "give exactly one of `secret` or `secret_env` (webhooks are signed)"
            raise ValueError(msg)
        if self.secret_env is not None and not os.environ.get(self.secret_env):
            msg = f"secret_env: environment variable {self.secret_env} is not set"
            raise ValueError(msg)
        return self

    @property
    def signing_secret(self) -> str:
        return os.environ[self.secret_env] if self.secret_env else str(self.secret)


class AlertsSection(Section):
    default_levels: list[AlertLevelSection] = [
        AlertLevelSection(kind="money", threshold=Decimal(5), margin=Decimal(1)),
        AlertLevelSection(kind="days", threshold=Decimal(3), margin=Decimal(1)),
    ]
    webhooks: list[WebhookSection] = []
    mqtt_topic: str = "accounts/{account_id}/alerts"

    @field_validator("mqtt_topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        try:
            value.format(account_id="A")
        except (KeyError, IndexError, ValueError) as exc:
            msg = f"only the placeholder {{account_id}} is allowed, got {value!r}"
            raise ValueError(msg) from exc
        if "{account_id}" not in value or "+" in value or "#" in value:
            msg = f"must contain {{account_id}} and no MQTT wildcard, got {value!r}"
            raise ValueError(msg)
        return value


class EmergencyCreditSection(Section):
    amount: Amount = Decimal(0)  # 0: no emergency credit
    available_below: Amount = Decimal(0)


class DebtRecoverySection(Section):
    share: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.25")
    cap_per_top_up: Amount | None = None
    order: Literal["emergency_first", "debt_first"] = "emergency_first"


class CreditControlSection(Section):
    timezone: str = "UTC"
    friendly_hours: tuple[LocalTime, LocalTime] | None = (time(18), time(8))  # [start, end] local
    friendly_weekends: bool = True
    holidays: list[date] = []
    reconnect_level: Amount = Decimal(0)
    emergency_credit: EmergencyCreditSection = Field(default_factory=EmergencyCreditSection)
    debt_recovery: DebtRecoverySection = Field(default_factory=DebtRecoverySection)

    _tz = field_validator("timezone")(_zone)


class StandingChargesSection(Section):
    enabled: bool = True
    posting_time: LocalTime = time(0, 5)
    timezone: str = "UTC"

    _tz = field_validator("timezone")(_zone)


class OfflineSection(Section):
    alert_after_intervals: Annotated[int, Field(ge=1)] = 3
    check_every_s: Seconds = 300.0


class HttpSection(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 9464


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: Annotated[bool, Field(alias="json")] = False
