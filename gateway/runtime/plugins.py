"""The one place where the action side plugs into the running gateway: explicit, no discovery.

`register(app)` adds the scheduled jobs and the dispatchers (`Service`s) to a built
`GatewayApp`. To add a piece: write its `job(now)` or `run(stop)`, register it here.

"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from drivers.mqtt.transport import Connection, SessionOptions
from gateway.ledger.jobs import detect_offline, post_standing_charges, review_credit
from gateway.ledger.tariffs import TariffCache
from gateway.runtime.app import GatewayApp, Service, mqtt_config
from gateway.runtime.command_transports import ModbusCommandTransport, MqttCommandTransport
from gateway.runtime.commands import CommandDispatcher
from gateway.runtime.outbox import MqttChannel, OutboxDispatcher
from gateway.runtime.webhooks import Webhook, WebhookChannel
from gateway.storage.db import UnitOfWork

logger = logging.getLogger(__name__)
DB_STATS_EVERY_S = 15.0
CREDIT_REVIEW_EVERY_S = 300.0


def register(app: GatewayApp) -> None:
    app.scheduler.every("db_stats", DB_STATS_EVERY_S, app.refresh_db_stats)
    _outbox(app)
    _commands(app)
    _ledger_jobs(app)


def _outbox(app: GatewayApp) -> None:
    channels: dict[str, Any] = {}
    mqtt = app.config.mqtt
    if mqtt.enabled:
        publisher = Connection(
            broker=mqtt_config(app.config).broker,
            session=SessionOptions(client_id=f"{mqtt.client_id}-outbox", protocol=mqtt.protocol),
        )
        channels["mqtt"] = MqttChannel(publisher)
        app.on_start.append(lambda: publisher.start(wait_s=None))
        app.on_stop.append(publisher.stop)
    hooks = [
        Webhook(
            url=hook.url,
            secret=hook.signing_secret,
            events=None if hook.events is None else frozenset(hook.events),
        )
        for hook in app.config.alerts.webhooks
    ]
    channels["webhook"] = WebhookChannel(hooks)
    dispatcher = OutboxDispatcher(app.engine, channels=channels)
    app.services.append(Service("outbox", dispatcher.run))


class _Transports(Mapping[str, Any]):
    """Modbus meters by id; any other meter id is reached over MQTT (if enabled)."""

    def __init__(self, modbus: Mapping[str, Any], mqtt: Any | None) -> None:
        self._modbus, self._mqtt = dict(modbus), mqtt

    def __getitem__(self, meter_id: str) -> Any:
        if meter_id in self._modbus:
            return self._modbus[meter_id]
        if self._mqtt is None:
            raise KeyError(meter_id)
        return self._mqtt

    def __iter__(self) -> Iterator[str]:
        return iter(self._modbus)

    def __len__(self) -> int:
        return len(self._modbus)


def _commands(app: GatewayApp) -> None:
    modbus = {
        meter_id: ModbusCommandTransport(driver)
        for polling in app.links
        for meter_id, driver in polling.drivers.items()
    }
    mqtt = MqttCommandTransport(app.mqtt) if app.mqtt is not None else None
    dispatcher = CommandDispatcher(app.engine, transports=_Transports(modbus, mqtt))
    app.services.append(Service("commands", dispatcher.run))


def _ledger_jobs(app: GatewayApp) -> None:
    policy = app.policy
    config, engine, tariffs = app.config, app.engine, TariffCache()
    zone = ZoneInfo(config.standing_charges.timezone)

    def standing_charges(now: datetime) -> None:
        yesterday = (now.astimezone(zone) - timedelta(days=1)).date()
        with UnitOfWork(engine) as uow:
            post_standing_charges(uow, yesterday, now=now, tariffs=tariffs, policy=policy)
            uow.commit()

    def offline(now: datetime) -> None:
        with UnitOfWork(engine) as uow:
            detect_offline(
                uow, now=now, policy=policy, after_intervals=config.offline.alert_after_intervals
            )
            uow.commit()

    def credit_review(now: datetime) -> None:
        with UnitOfWork(engine) as uow:
            review_credit(uow, now=now, policy=policy)
            uow.commit()

    if config.standing_charges.enabled:
        at = config.standing_charges.posting_time
        app.scheduler.daily_at("standing_charges", at, zone, standing_charges)
    app.scheduler.every("offline_meters", config.offline.check_every_s, offline)
    app.scheduler.every("credit_review", CREDIT_REVIEW_EVERY_S, credit_review)
