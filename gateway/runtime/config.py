"""The gateway's one configuration: a YAML file, environment overrides, validated at start.

`load_config(path)` reads the YAML file, lets `PREPAID_GATEWAY_<SECTION>__<KEY>` environment
variables override it (nested keys joined by `__`), and validates everything with pydantic;
unknown keys are refused. A bad value raises `ConfigError` naming the key, e.g.
`modbus.links[0].meters[2].model: unknown model 'sdm12O' (known: ...)`.
The reference is docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from drivers.error_keys import key_path
from gateway.runtime.sections import (
    AlertsSection,
    CreditControlSection,
    DatabaseSection,
    HttpSection,
    LoggingSection,
    ModbusSection,
    MqttSection,
    OfflineSection,
    StandingChargesSection,
    TasmotaSection,
)

ENV_PREFIX = "PREPAID_GATEWAY_"


class ConfigError(Exception):
    """Invalid configuration: `problems` is a list of (key, reason); the first is `key`."""

    def __init__(self, key: str, reason: str, *more: tuple[str, str]) -> None:
        self.problems = [(key, reason), *more]
        self.key, self.reason = key, reason
        super().__init__("; ".join(f"{k}: {r}" for k, r in self.problems))


class GatewayConfig(BaseSettings):
    """The whole configuration. Built by `load_config`; env overrides beat the file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseSection = Field(default_factory=DatabaseSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    modbus: ModbusSection = Field(default_factory=ModbusSection)
    tasmota: TasmotaSection = Field(default_factory=TasmotaSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    credit_control: CreditControlSection = Field(default_factory=CreditControlSection)
    standing_charges: StandingChargesSection = Field(default_factory=StandingChargesSection)
    offline: OfflineSection = Field(default_factory=OfflineSection)
    http: HttpSection = Field(default_factory=HttpSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (see docs/configuration.md)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def load_config(path: Path) -> GatewayConfig:
    """Read, override from the environment and validate; raise `ConfigError` naming the key."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError("(top level)", "must be a mapping of sections (database, mqtt, ...)")
    try:
        return GatewayConfig(**document)
    except ValidationError as exc:
        problems = [
            (key_path(tuple(e["loc"]), root="(top level)"), _reason(e)) for e in exc.errors()
        ]
        raise ConfigError(*problems[0], *problems[1:]) from exc
