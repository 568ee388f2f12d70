"""The MQTT ingest client: subscribes (QoS 1, persistent session, manual ack), feeds the
pipeline, and sends commands to meters. Wire it from a `GatewayConfig` and a sink.
"""

import asyncio
import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from drivers.mqtt.commands import Command, CommandAck, CommandTracker
from drivers.mqtt.contract import CommandAction
from drivers.mqtt.counters import Counters, CountersSnapshot
from drivers.mqtt.deadletter import DeadLetter
from drivers.mqtt.errors import CommandRejectedError, CommandTimeoutError, PublishNotConfirmedError
from drivers.mqtt.pipeline import BatchPolicy, Pipeline
from drivers.mqtt.readings import ReadingDecoder, ReadingLimits, TasmotaDevice
from drivers.mqtt.sink import Sink
from drivers.mqtt.topics import Topics
from drivers.mqtt.transport import (
    BrokerAddress,
    Connection,
    Inbound,
    ProtocolVersion,
    SessionOptions,
    utc_now,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the MQTT ingest needs. `client_id` must be fixed per gateway instance:
    the broker keeps the session (and the unacked messages) under it."""

    broker: BrokerAddress = field(default_factory=BrokerAddress)
    client_id: str = "prepaid-gateway"
    protocol: ProtocolVersion = "3.1.1"
    topics: Topics = field(default_factory=Topics)
    share_group: str | None = None
    limits: ReadingLimits = field(default_factory=ReadingLimits)
    tasmota_devices: Mapping[str, TasmotaDevice] = field(default_factory=dict)
    batch: BatchPolicy = field(default_factory=BatchPolicy)
    session_expiry_s: int = 7 * 24 * 3600
    publish_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.client_id:
            msg = "client_id: required (a persistent session needs a fixed client id)"
            raise ValueError(msg)
        if self.share_group is not None and not self.share_group.isidentifier():
            msg = f"share_group: must be a simple name, got {self.share_group!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """A published command; it counts only once `confirmed` returns the meter's ack."""

    command: Command
    _future: "concurrent.futures.Future[CommandAck]"
    _tracker: CommandTracker

    def confirmed(self, timeout_s: float) -> CommandAck:
        try:
            ack = self._future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError as exc:
            self._tracker.forget(self.command.id)
            raise CommandTimeoutError(self.command.id, timeout_s) from exc
        if not ack.ok:
            raise CommandRejectedError(self.command.id, ack.error or "no reason given")
        return ack

    async def confirmed_async(self, timeout_s: float) -> CommandAck:
        try:
            ack = await asyncio.wait_for(asyncio.wrap_future(self._future), timeout_s)
        except TimeoutError as exc:
            self._tracker.forget(self.command.id)
            raise CommandTimeoutError(self.command.id, timeout_s) from exc
        if not ack.ok:
            raise CommandRejectedError(self.command.id, ack.error or "no reason given")
        return ack


class MqttGateway:
    def __init__(
        self,
        config: GatewayConfig,
        sink: Sink,
        *,
        meter_known: Callable[[str], bool] | None = None,
        clock: Callable[[], datetime] = utc_now,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._counters = Counters()
        self._tracker = CommandTracker()
        topics = config.topics
        subscriptions = [(f, 1) for f in topics.reading_filters(config.share_group)]
        subscriptions.append((topics.command_ack_filter, 1))
        self._connection = Connection(
            broker=config.broker,
            session=SessionOptions(
                client_id=config.client_id,
                persistent=True,
                protocol=config.protocol,
                session_expiry_s=config.session_expiry_s,
                manual_ack=True,
                receive_maximum=config.batch.max_messages,
            ),
            subscriptions=subscriptions,
            on_message=self._offer,
            clock=clock,
        )
        self._pipeline = Pipeline(
            decoder=ReadingDecoder(
                topics=topics,
                limits=config.limits,
                tasmota_devices=config.tasmota_devices,
                meter_known=meter_known,
            ),
            sink=sink,
            publish_dead_letter=self._publish_dead_letter,
            ack=self._connection.ack,
            on_command_ack=self._on_command_ack,
            counters=self._counters,
            policy=config.batch,
            loop=loop,
        )
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    @property
    def counters(self) -> CountersSnapshot:
        return self._counters.snapshot()

    def start(self, *, wait_s: float | None = 10.0) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)
        self._worker.start()
        self._connection.start(wait_s=wait_s)

    def wait_connected(self, timeout_s: float) -> bool:
        """True once connected and subscribed (again, after a reconnect)."""
        return self._connection.wait_ready(timeout_s)

    def stop(self) -> None:
        """Stop without acking what is not committed; the broker keeps it for the next start."""
        self._stop.set()
        self._connection.stop()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._pipeline.drain()

    def send_command(
        self,
        meter_id: str,
        action: CommandAction,
        *,
        amount: Decimal | None = None,
        ttl_s: int = 60,
        command_id: str | None = None,
    ) -> PendingCommand:
        """Publish a command at QoS 1 (broker-confirmed); await the meter with `confirmed`."""
        command = Command(
            id=command_id or uuid.uuid4().hex,
            meter_id=meter_id,
            action=action,
            amount=amount,
            expires_at=self._clock() + timedelta(seconds=ttl_s),
        )
        future = self._tracker.register(command)
        try:
            self._connection.publish(
                self._config.topics.command(meter_id),
                command.to_bytes(),
                timeout_s=self._config.publish_timeout_s,
            )
        except PublishNotConfirmedError:
            self._tracker.forget(command.id)
            raise
        return PendingCommand(command, future, self._tracker)

    def _offer(self, message: Inbound) -> None:
        self._pipeline.offer(message)

    def _publish_dead_letter(self, letter: DeadLetter) -> None:
        self._connection.publish(
            self._config.topics.deadletter,
            letter.to_bytes(),
            timeout_s=self._config.publish_timeout_s,
        )

    def _on_command_ack(self, ack: CommandAck) -> None:
        if not self._tracker.resolve(ack):
            logger.info(
                "ack for unknown or expired command %s from %s", ack.command_id, ack.meter_id
            )

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                failed = self._pipeline.run(self._stop, lambda: self._connection.generation)
            except Exception:  # a bug must not stop ingest silently: log, recycle, go on
                logger.exception("MQTT ingest worker error; recycling the connection")
                failed = True
            if failed and not self._stop.wait(self._config.batch.sink_retry_delay_s):
                self._pipeline.drain()
                self._connection.recycle()
