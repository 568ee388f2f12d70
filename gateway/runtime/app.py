"""The composition root: one validated `GatewayConfig` in, the running gateway out.

    drivers (MQTT client, Modbus pollers) -> ledger sink (validation, rating, ledger, outbox,
    one transaction) -> actions (outbox and command dispatchers, scheduled jobs)

`GatewayApp(config)` builds every adapter; `run(stop)` starts them and, once `stop` is set,
shuts down in order: stop taking readings (MQTT unsubscribed, pollers stopped), drain what
is in flight (a poll batch is committed; an MQTT batch is committed or, unacked, redelivered
by the broker to the next start), stop the dispatchers and jobs, then the HTTP server.
The action side plugs in by explicit registration in `gateway.runtime.plugins`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from drivers.modbus.driver import ModbusMeterDriver
from drivers.modbus.link import ModbusLink
from drivers.modbus.poller import Poller
from drivers.models import MODELS
from drivers.mqtt import BatchPolicy, BrokerAddress, MqttGateway, TasmotaDevice, Topics
from drivers.mqtt import GatewayConfig as MqttConfig
from drivers.registers import SerialDefaults
from gateway.runtime.config import GatewayConfig
from gateway.runtime.http import HttpServer, make_http_app
from gateway.runtime.metrics import GatewayMetrics, ObservedLedgerSink, TimedDriver, read_db_stats
from gateway.runtime.policy import control_policy
from gateway.runtime.scheduler import Scheduler
from gateway.runtime.sections import ModbusLinkSection
from gateway.sinks import PollerSink
from gateway.storage.db import make_engine
from gateway.storage.migrate import alembic_config

logger = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 30.0


class SchemaNotAtHeadError(RuntimeError):
    """The database schema is not at the code's migration head."""


@dataclass(frozen=True, slots=True)
class Service:
    """A long-running loop of the action side: `run(stop)` returns once `stop` is set."""

    name: str
    run: Callable[[asyncio.Event], Coroutine[object, object, None]]


@dataclass(frozen=True, slots=True)
class PollingLink:
    link: ModbusLink
    sink: PollerSink
    pollers: tuple[Poller, ...]
    drivers: dict[str, ModbusMeterDriver]


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not at head; say how to fix it."""
    url = engine.url.render_as_string(hide_password=False)
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        shown = ", ".join(sorted(current)) or "empty (no schema)"
        msg = (
            f"database {engine.url.render_as_string()} is at revision {shown}, the code needs"
            f" {', '.join(sorted(heads))}: run `prepaid-gateway db upgrade --database-url ...`"
            " first"
        )
        raise SchemaNotAtHeadError(msg)


def mqtt_config(config: GatewayConfig) -> MqttConfig:
    section = config.mqtt
    devices = {
        name: TasmotaDevice(meter_id=device.meter_id, timezone=ZoneInfo(device.timezone))
        for name, device in config.tasmota.devices.items()
    }
    batch = section.batch
    return MqttConfig(
        broker=BrokerAddress(section.host, section.port, section.keepalive_s),
        client_id=section.client_id,
        protocol=section.protocol,
        topics=Topics(section.prefix),
        share_group=section.shared_group,
        tasmota_devices=devices,
        batch=BatchPolicy(
            batch.max_messages, batch.max_wait_ms, batch.queue_size, batch.sink_retry_delay_s
        ),
    )


def make_link(section: ModbusLinkSection) -> ModbusLink:
    if section.kind == "rtu":
        model_line = MODELS[section.meters[0].model].serial
        line = SerialDefaults(
            baudrate=section.baud or model_line.baudrate, parity=section.parity or model_line.parity
        )
        return ModbusLink.serial(str(section.device), line)
    port = section.port or 502
    if section.kind == "tcp":
        return ModbusLink.tcp(str(section.host), port)
    return ModbusLink.rtu_over_tcp(str(section.host), port)


class GatewayApp:
    """Build inside a running event loop (the Modbus clients attach to it)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.engine = make_engine(config.database.url)
        self.policy = control_policy(config)  # credit control, in the same commit as readings
        self.ledger = ObservedLedgerSink(self.engine, self.metrics, policy=self.policy)
        self.mqtt: MqttGateway | None = None
        if config.mqtt.enabled:
            self.mqtt = MqttGateway(mqtt_config(config), self.ledger)
            self.metrics.mqtt_connected = self.mqtt_connected
            self.metrics.mqtt_counters = lambda: self._mqtt().counters
        self.links = [self._polling_link(section) for section in config.modbus.links]
        self.scheduler = Scheduler(observe=self.metrics.job_ran)
        self.services: list[Service] = []
        self.on_start: list[Callable[[], None]] = []  # after the drivers start (blocking ok)
        self.on_stop: list[Callable[[], None]] = []  # after the services stop
        self.http: HttpServer | None = None
        if config.http.enabled:
            connected = self.mqtt_connected if self.mqtt is not None else None
            web = make_http_app(self.metrics, self.engine, connected)
            self.http = HttpServer(web, host=config.http.host, port=config.http.port)
        from gateway.runtime.plugins import register  # noqa: PLC0415 - plugins import the app

        register(self)

    def _mqtt(self) -> MqttGateway:
        assert self.mqtt is not None
        return self.mqtt

    def mqtt_connected(self) -> bool:
        return self.mqtt is not None and self.mqtt.wait_connected(0)

    def _polling_link(self, section: ModbusLinkSection) -> PollingLink:
        link = make_link(section)
        sink = PollerSink(self.ledger)
        drivers = {
            meter.meter_id: ModbusMeterDriver(
                meter_id=meter.meter_id,
                link=link,
                model=MODELS[meter.model],
                unit_id=meter.unit,
                timeout_s=section.timeout_s,
                retries=section.retries,
            )
            for meter in section.meters
        }
        by_interval = sorted(section.meters, key=lambda meter: meter.poll_interval_s)
        pollers = tuple(
            Poller(
                [TimedDriver(drivers[meter.meter_id], self.metrics) for meter in group],
                sink=sink,
                interval_s=interval_s,
            )
            for interval_s, group in groupby(by_interval, key=lambda meter: meter.poll_interval_s)
        )
        return PollingLink(link, sink, pollers, drivers)

    def refresh_db_stats(self, _now: datetime) -> None:
        """The `db_stats` job: alerts, outbox and command counts for /metrics."""
        self.metrics.db_stats = read_db_stats(self.engine)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then shut down gracefully (see the module docstring)."""
        await asyncio.to_thread(check_schema, self.engine)
        actions_stop, http_stop = asyncio.Event(), asyncio.Event()
        http_task = None
        if self.http is not None:
            http_task = asyncio.create_task(self.http.serve(http_stop), name="http")
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.start, wait_s=None)  # reconnects until it gets in
        for hook in self.on_start:
            await asyncio.to_thread(hook)
        polls = [
            asyncio.create_task(poller.run(), name=f"poller:{polling.link.description}")
            for polling in self.links
            for poller in polling.pollers
        ]
        actions = [
            asyncio.create_task(service.run(actions_stop), name=service.name)
            for service in self.services
        ]
        actions.append(asyncio.create_task(self.scheduler.run(actions_stop), name="scheduler"))
        logger.info(
            "gateway running: %d Modbus link(s), MQTT %s, %d service(s), %d job(s)",
            len(self.links),
            "on" if self.mqtt is not None else "off",
            len(self.services),
            len(self.scheduler.jobs),
            extra={"event": "gateway_started"},
        )
        watched = [*polls, *actions, *([http_task] if http_task else [])]
        failed = await _until_stopped_or_failed(stop, watched)
        logger.info("gateway stopping", extra={"event": "gateway_stopping"})
        try:
            await self._stop_ingest(polls)
            actions_stop.set()
            await _drain(actions, DRAIN_TIMEOUT_S)
            for hook in self.on_stop:
                await asyncio.to_thread(hook)
        finally:
            http_stop.set()
            if http_task is not None:
                await _drain([http_task], 5.0)
            for polling in self.links:
                polling.link.close()
            self.engine.dispose()
        if failed is not None:
            msg = f"{failed.get_name()} stopped unexpectedly"
            raise RuntimeError(msg) from (None if failed.cancelled() else failed.exception())
        logger.info("gateway stopped", extra={"event": "gateway_stopped"})

    async def _stop_ingest(self, polls: list[asyncio.Task[None]]) -> None:
        if self.mqtt is not None:  # unsubscribes; its batch in flight commits or is redelivered
            await asyncio.to_thread(self.mqtt.stop)
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for polling in self.links:
            await polling.sink.aclose()  # commits the pending poll batch


async def _until_stopped_or_failed(
    stop: asyncio.Event, tasks: list[asyncio.Task[None]]
) -> asyncio.Task[None] | None:
    """Wait for `stop`; return the task that ended first if one ends before (a crash)."""
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopping, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    ended = [task for task in tasks if task in done]
    if not ended:
        return None
    task = ended[0]
    logger.error(
        "%s ended before the gateway was stopped: %r",
        task.get_name(),
        task.exception() if not task.cancelled() else "cancelled",
        extra={"event": "task_crashed"},
    )
    return task


async def _drain(tasks: list[asyncio.Task[None]], timeout_s: float) -> None:
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=timeout_s)
    for task in late:
        logger.warning("%s did not stop within %s s; cancelled", task.get_name(), timeout_s)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
