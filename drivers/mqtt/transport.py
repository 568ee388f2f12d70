"""The paho-mqtt adapter: the only module of the project that imports paho.

A `Connection` connects in the background, reconnects with paho's backoff, resubscribes on
every connect, and (with manual ack) acknowledges a message only when asked. Each
connection gets a new `generation`; an ack for a message of an older generation is not
sent (its packet id may already name another message; the broker redelivers it anyway).
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from drivers.mqtt.errors import BrokerUnavailableError, PublishNotConfirmedError

logger = logging.getLogger(__name__)

ProtocolVersion = Literal["3.1.1", "5"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    keepalive_s: int = 30


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """`persistent`: the broker keeps subscriptions and unacked QoS 1 messages across
    disconnects (clean_session=False on 3.1.1; clean_start=False + expiry on v5)."""

    client_id: str
    persistent: bool = False
    protocol: ProtocolVersion = "3.1.1"
    session_expiry_s: int = 7 * 24 * 3600
    manual_ack: bool = False
    receive_maximum: int | None = None  # v5: unacked messages the broker may send at once
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    dup: bool
    generation: int
    received_at: datetime


class Connection:
    def __init__(
        self,
        *,
        broker: BrokerAddress,
        session: SessionOptions,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: Callable[[Inbound], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._broker = broker
        self._session = session
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._ready = threading.Event()
        self._failure: str | None = None
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        s = self._session
        if s.protocol == "5":
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=s.manual_ack,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                clean_session=not s.persistent,
                protocol=mqtt.MQTTv311,
                manual_ack=s.manual_ack,
            )
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.max_queued_messages_set(0)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        return client

    @property
    def generation(self) -> int:
        return self._generation

    def _connect_async(self) -> None:
        s, b = self._session, self._broker
        if s.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.session_expiry_s if s.persistent else 0
            if s.receive_maximum is not None:
                props.ReceiveMaximum = s.receive_maximum
            self._client.connect_async(
                b.host, b.port, b.keepalive_s, clean_start=not s.persistent, properties=props
            )
        else:
            self._client.connect_async(b.host, b.port, b.keepalive_s)

    def start(self, *, wait_s: float | None = 10.0) -> None:
        """Connect in the background; with `wait_s`, wait until connected and subscribed."""
        self._ready.clear()
        self._connect_async()
        self._client.loop_start()
        if wait_s is not None and not self.wait_ready(wait_s):
            self.stop()
            reason = self._failure or "no answer"
            msg = f"broker {self._broker.host}:{self._broker.port}: {reason} within {wait_s} s"
            raise BrokerUnavailableError(msg)

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def stop(self) -> None:
        self._bump_generation()
        self._client.disconnect()
        self._client.loop_stop()

    def recycle(self) -> None:
        """Drop the connection and reconnect, so the broker redelivers every unacked message."""
        logger.info("recycling MQTT connection %s", self._session.client_id)
        self.stop()
        self.start(wait_s=None)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float = 5.0,
    ) -> None:
        """Publish; at QoS 1 wait for the broker's PUBACK or raise PublishNotConfirmedError."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return
        try:
            info.wait_for_publish(timeout_s)
        except (ValueError, RuntimeError) as exc:
            msg = f"{topic}: publish failed: {exc}"
            raise PublishNotConfirmedError(msg) from exc
        if not info.is_published():
            msg = f"{topic}: no PUBACK within {timeout_s} s"
            raise PublishNotConfirmedError(msg)

    def publish_nowait(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Queue a publish without waiting for PUBACK (usable inside a message handler)."""
        self._client.publish(topic, payload, qos=qos)

    def ack(self, message: Inbound) -> bool:
        """Send PUBACK for `message` unless its connection is gone (then the broker redelivers)."""
        with self._lock:
            if message.generation != self._generation:
                return False
            self._client.ack(message.mid, message.qos)
            return True

    def _bump_generation(self) -> None:
        with self._lock:
            self._generation += 1
            self._ready.clear()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._failure = f"connection refused: {reason_code}"
            logger.warning("MQTT %s: %s", self._session.client_id, self._failure)
            return
        self._bump_generation()
        logger.info(
            "MQTT %s connected (session present: %s)",
            self._session.client_id,
            flags.session_present,
        )
        if self._subscriptions:
            client.subscribe(self._subscriptions)
        else:
            self._ready.set()

    def _handle_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._failure = f"subscription refused: {', '.join(refused)}"
            logger.error("MQTT %s: %s", self._session.client_id, self._failure)
            return
        self._ready.set()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._bump_generation()
        logger.info("MQTT %s disconnected: %s", self._session.client_id, reason_code)

    def _handle_message(
        self,
        client: mqtt.Client,
        userdata: Any,
        message: mqtt.MQTTMessage,
    ) -> None:
        if self._on_message is None:
            return
        self._on_message(
            Inbound(
                topic=message.topic,
                payload=bytes(message.payload),
                qos=message.qos,
                mid=message.mid,
                dup=bool(message.dup),
                generation=self._generation,
                received_at=self._clock(),
            )
        )


__all__ = ["BrokerAddress", "Connection", "Inbound", "ProtocolVersion", "SessionOptions"]
