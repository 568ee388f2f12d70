"""The demo's cast and settings: a flat tariff, three accounts with little credit, their
meters (two over MQTT, one over Modbus TCP), an admin API key and the gateway's config.

Time: an MQTT meter's clock starts 30 days back and moves `speed` simulated seconds per real
second (one reading a second), never past the real now. Readings from the past are what a
meter catching up after an outage sends, so validation, rating and alerts treat them as
usual, and commands (which expire on real time) are carried out at the meter's time. The
Modbus meter is polled at wall-clock time; its register runs `modbus_acceleration` times
faster, so its maximum plausible power is raised to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from sqlalchemy import Engine

from api.auth import Role, create_key
from gateway.ledger import admin
from gateway.runtime.config import GatewayConfig
from gateway.storage.db import UnitOfWork

TARIFF: dict[str, Any] = {
    "tariff_id": "demo-flat",
    "version": 1,
    "effective_from": "2020-01-01",
    "timezone": "UTC",
    "currency": "EUR",
    "price_per_kwh": "0.30",
}
CURRENCY = "EUR"
ALERT_LEVELS = ((Decimal("3.00"), Decimal("1.00")), (Decimal("1.00"), Decimal("0.50")))
TOP_UP = Decimal("10.00")
MODBUS_MODEL, MODBUS_UNIT = "prepaid-v1", 1
HISTORY = timedelta(days=30)  # how far back the MQTT meters' clocks start


@dataclass(frozen=True, slots=True)
class DemoMeter:
    meter_id: str
    account_id: str
    protocol: Literal["mqtt", "modbus"]
    power_w: Decimal
    opening: Decimal  # the account's opening balance


CAST = (
    DemoMeter("DEMO-M1", "A-1001", "mqtt", Decimal(800), Decimal("20.00")),
    DemoMeter("DEMO-M2", "A-1002", "mqtt", Decimal(2000), Decimal("4.00")),  # runs out first
    DemoMeter("DEMO-M3", "A-1003", "modbus", Decimal(1500), Decimal("3.50")),
)


@dataclass(frozen=True, slots=True)
class Timing:
    speed: int  # simulated seconds per real second
    reading_every_s: float = 1.0  # real time between two MQTT readings of a meter
    modbus_poll_s: float = 2.0

    @property
    def mqtt_step(self) -> timedelta:
        return timedelta(seconds=self.speed * self.reading_every_s)

    @property
    def modbus_acceleration(self) -> int:
        return max(1, self.speed // 10)


def origin_of(now: datetime) -> datetime:
    """Where the MQTT meters' clocks start: midnight UTC, `HISTORY` ago."""
    day = (now - HISTORY).astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def seed(engine: Engine, *, origin: datetime, now: datetime, timing: Timing) -> str:
    """Create the tariff, accounts and meters; return a new admin API key (shown once)."""
    with UnitOfWork(engine) as uow:
        admin.register_tariff_version(uow, TARIFF, now)
        for meter in CAST:
            admin.create_account(
                uow, meter.account_id, currency=CURRENCY, tariff_id=TARIFF["tariff_id"],
                now=now, opening_balance=meter.opening,
            )  # fmt: skip
            if meter.protocol == "mqtt":
                installed, interval, max_kw = origin, timing.mqtt_step, Decimal(100)
            else:
                installed = now
                interval = timedelta(seconds=timing.modbus_poll_s)
                max_kw = max(Decimal(100), meter.power_w * timing.modbus_acceleration / 500)
            admin.add_meter(
                uow, meter.meter_id, account_id=meter.account_id, serial=f"SN-{meter.meter_id}",
                max_power_kw=max_kw, expected_interval=interval, installed_at=installed,
                install_reading_kwh=Decimal(0),
            )  # fmt: skip
        key = create_key(uow, name="demo", role=Role.ADMIN, now=now)
        uow.commit()
    return key


class _CodeOnlyConfig(GatewayConfig):
    """The gateway config, without PREPAID_GATEWAY_* overrides: an environment set up for a
    real gateway must not point the demo at a real database or broker."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def gateway_config(
    *, database_url: str, mqtt: tuple[str, int], modbus_port: int, http_port: int,
    timing: Timing, client_id: str,
) -> GatewayConfig:  # fmt: skip
    """Credit control on at any hour (friendly hours off), alert levels crossed quickly."""
    modbus = [m for m in CAST if m.protocol == "modbus"]
    link: dict[str, Any] = {
        "kind": "tcp", "host": "127.0.0.1", "port": modbus_port, "timeout_s": 1.0, "retries": 1,
        "meters": [{"meter_id": m.meter_id, "unit": MODBUS_UNIT + index, "model": MODBUS_MODEL,
                    "poll_interval_s": timing.modbus_poll_s} for index, m in enumerate(modbus)],
    }  # fmt: skip
    document: dict[str, Any] = {
        "database": {"url": database_url},
        "mqtt": {"host": mqtt[0], "port": mqtt[1], "client_id": client_id,
                 "batch": {"max_messages": 100, "max_wait_ms": 20, "sink_retry_delay_s": 0.2}},
        "modbus": {"links": [link]},
        "alerts": {"default_levels": [
            {"kind": "money", "threshold": str(level), "margin": str(margin)}
            for level, margin in ALERT_LEVELS
        ]},
        "credit_control": {"friendly_hours": None, "friendly_weekends": False,
                           "reconnect_level": "0"},
        # The daily job runs on wall-clock days; a demo minute never reaches one.
        "standing_charges": {"enabled": False},
        # MQTT meter clocks run in the past: a wall-clock check would call them all silent.
        "offline": {"alert_after_intervals": 100_000_000, "check_every_s": 3600},
        "http": {"host": "127.0.0.1", "port": http_port},
        "logging": {"level": "WARNING"},
    }  # fmt: skip
    return _CodeOnlyConfig(**document)
