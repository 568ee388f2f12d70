"""The outbox dispatcher: delivers rows the ledger wrote to `outbox`, at least once.

A pass claims a batch of due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite has one
writer) by moving their `next_attempt_at` a lease ahead, commits, delivers outside any
transaction, and records each outcome in its own short transaction. A crash after sending
and before recording re-sends the row once its lease is over, with the same delivery id.
A failing row is retried with capped exponential backoff, forever: an alert is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from drivers.mqtt.errors import PublishNotConfirmedError
from drivers.mqtt.transport import BrokerAddress, Connection, SessionOptions
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import outbox

logger = logging.getLogger(__name__)

_ERROR_CHARS = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry `attempts` (1-based): first_s, doubling, at most cap_s; jitter takes
    up to that fraction off, so instances that failed together do not retry together."""

    first_s: float = 1.0
    cap_s: float = 600.0
    jitter: float = 0.2

    def delay_s(self, attempts: int, rand: float) -> float:
        exponent = min(max(attempts - 1, 0), 62)
        return min(self.cap_s, self.first_s * 2.0**exponent) * (1 - self.jitter * rand)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    channel: str  # mqtt | webhook
    topic: str  # the MQTT topic, or the event name of a webhook
    payload: object  # opaque JSON, passed through
    attempts: int
    created_at: datetime


class DeliveryError(Exception):
    """A channel could not deliver a message; the dispatcher retries it later."""


class Channel(Protocol):
    def deliver(self, message: OutboxMessage, now: datetime) -> None:
        """Deliver or raise DeliveryError. `now` is the sending time (webhook signatures)."""


def payload_bytes(payload: object) -> bytes:
    """The canonical JSON body of a payload: compact, sorted keys, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class Publisher(Protocol):
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = ...,
        retain: bool = ...,
        timeout_s: float = ...,
    ) -> None: ...


class MqttChannel:
    """Publishes the payload to the row's topic at QoS 1; delivered once the broker PUBACKs."""

    def __init__(self, publisher: Publisher, *, timeout_s: float = 5.0) -> None:
        self._publisher = publisher
        self._timeout_s = timeout_s

    def deliver(self, message: OutboxMessage, now: datetime) -> None:
        try:
            self._publisher.publish(
                message.topic, payload_bytes(message.payload), qos=1, timeout_s=self._timeout_s
            )
        except PublishNotConfirmedError as exc:
            raise DeliveryError(str(exc)) from exc


def open_publisher(
    broker: BrokerAddress, *, client_id: str, wait_s: float | None = 10.0
) -> Connection:
    """A started MQTT connection for `MqttChannel` (it reconnects by itself); stop() it at exit."""
    connection = Connection(broker=broker, session=SessionOptions(client_id=client_id))
    connection.start(wait_s=wait_s)
    return connection


@dataclass(frozen=True, slots=True)
class OutboxCounters:
    delivered: int = 0
    failed_attempts: int = 0
    failed_past_alarm: int = 0  # failed attempts of rows at or past `alarm_after_attempts`


class OutboxDispatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        channels: Mapping[str, Channel],
        batch_size: int = 50,
        backoff: Backoff | None = None,
        alarm_after_attempts: int = 10,
        lease_s: float = 300.0,
        poll_interval_s: float = 0.5,
        clock: Callable[[], datetime] = utc_now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._channels = dict(channels)
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        self._alarm_after = alarm_after_attempts
        self._lease = timedelta(seconds=lease_s)
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._counters = OutboxCounters()

    @property
    def counters(self) -> OutboxCounters:
        return self._counters

    def pending_depth(self) -> tuple[int, int]:
        """(undelivered rows, undelivered rows at or past the alarm) for /metrics."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    func.count(),
                    func.count().filter(outbox.c.attempts >= self._alarm_after),
                ).where(outbox.c.delivered_at.is_(None))
            ).one()
        return int(row[0]), int(row[1])

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a full batch is followed at once by the next."""
        while not stop.is_set():
            try:
                handled = await asyncio.to_thread(self.process_once, self._clock())
            except SQLAlchemyError:
                logger.exception("outbox pass failed; retrying in %s s", self._poll_interval_s)
                handled = 0
            if handled < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll_interval_s)

    def process_once(self, now: datetime) -> int:
        """One pass: claim due rows, deliver each, record the outcome. Returns rows attempted."""
        batch = self._claim(now)
        started = time.monotonic()
        for index, message in enumerate(batch):
            elapsed_s = time.monotonic() - started
            if elapsed_s > self._lease.total_seconds() / 2:  # keep well inside the lease
                self._release(batch[index:], now)
                return index
            self._attempt(message, now, now + timedelta(seconds=elapsed_s))
        return len(batch)

    def _claim(self, now: datetime) -> list[OutboxMessage]:
        with UnitOfWork(self._engine) as uow:
            query = (
                select(outbox)
                .where(outbox.c.delivered_at.is_(None), outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.id)
                .limit(self._batch_size)
            )
            if uow.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = uow.connection.execute(query).all()
            batch = [
                OutboxMessage(r.id, r.channel, r.topic, r.payload, r.attempts, r.created_at)
                for r in rows
            ]
            if batch:
                uow.connection.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([m.id for m in batch]))
                    .values(next_attempt_at=now + self._lease)
                )
            uow.commit()
        return batch

    def _release(self, messages: Sequence[OutboxMessage], now: datetime) -> None:
        with UnitOfWork(self._engine) as uow:
            uow.connection.execute(
                update(outbox)
                .where(outbox.c.id.in_([m.id for m in messages]), outbox.c.delivered_at.is_(None))
                .values(next_attempt_at=now)
            )
            uow.commit()

    def _attempt(self, message: OutboxMessage, now: datetime, sent_at: datetime) -> None:
        channel = self._channels.get(message.channel)
        try:
            if channel is None:
                msg = f"no channel {message.channel!r} is configured"
                raise DeliveryError(msg)
            channel.deliver(message, sent_at)
        except DeliveryError as exc:
            self._record_failure(message, now, str(exc))
        else:
            self._record(message.id, delivered_at=now, attempts=message.attempts + 1)
            self._count(delivered=1)

    def _record_failure(self, message: OutboxMessage, now: datetime, error: str) -> None:
        attempts = message.attempts + 1
        delay = timedelta(seconds=self._backoff.delay_s(attempts, self._rand()))
        self._record(
            message.id,
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=error[:_ERROR_CHARS],
        )
        past_alarm = attempts >= self._alarm_after
        self._count(failed_attempts=1, failed_past_alarm=int(past_alarm))
        log = logger.error if past_alarm else logger.warning
        log(
            "outbox %s (%s %s): attempt %s failed, next in %.0f s: %s",
            message.id,
            message.channel,
            message.topic,
            attempts,
            delay.total_seconds(),
            error,
        )

    def _record(self, message_id: int, **values: object) -> None:
        with UnitOfWork(self._engine) as uow:
            uow.connection.execute(
                update(outbox)
                .where(outbox.c.id == message_id, outbox.c.delivered_at.is_(None))
                .values(**values)
            )
            uow.commit()

    def _count(
        self, delivered: int = 0, failed_attempts: int = 0, failed_past_alarm: int = 0
    ) -> None:
        with self._lock:
            c = self._counters
            self._counters = OutboxCounters(
                delivered=c.delivered + delivered,
                failed_attempts=c.failed_attempts + failed_attempts,
                failed_past_alarm=c.failed_past_alarm + failed_past_alarm,
            )
