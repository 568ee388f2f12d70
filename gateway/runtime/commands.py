"""The meter command dispatcher: pending -> sent -> confirmed | expired | failed.

A command counts only when its meter confirms it; then `meters.relay` is updated in the
same transaction. Never sent at or after `expires_at`; a relay command superseded by a
later relay command for the same meter (a later set_balance, by a later set_balance) is
expired, never sent. Transports translate foreign errors into `CommandUnconfirmedError`
(no answer: retried until expiry) or `CommandRefusedError` (failed after `max_refusals`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.exc import SQLAlchemyError

from gateway.runtime.command_transports import (
    _WANTED,
    CommandError,
    CommandRefusedError,
    CommandTransport,
    CommandUnconfirmedError,
    MeterCommand,
    ModbusCommandTransport,
    MqttCommandTransport,
)
from gateway.runtime.outbox import Backoff, utc_now
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import meter_commands as mc
from gateway.storage.schema import meters

__all__ = ["CommandDispatcher", "ModbusCommandTransport", "MqttCommandTransport"]

logger = logging.getLogger(__name__)


def _kind(action: str) -> str:
    return "relay" if action in _WANTED else action


class CommandDispatcher:
    def __init__(
        self,
        engine: Engine,
        *,
        transports: Mapping[str, CommandTransport],
        batch_size: int = 50,
        backoff: Backoff | None = None,
        max_refusals: int = 3,
        concurrency: int = 16,
        lease_s: float = 120.0,
        poll_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._engine = engine
        self._transports = transports
        self._batch_size = batch_size
        self._backoff = backoff or Backoff(first_s=2.0, cap_s=60.0)
        self._max_refusals = max_refusals
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = timedelta(seconds=lease_s)
        self._poll_interval_s = poll_interval_s
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()

    @property
    def counters(self) -> dict[str, int]:
        """confirmed, expired, superseded, failed, unconfirmed_attempts (for /metrics)."""
        with self._lock:
            return dict(self._counters)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.process_once(self._clock())
            except SQLAlchemyError:
                logger.exception("command pass failed; retrying in %s s", self._poll_interval_s)
                handled = 0
            if handled < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll_interval_s)

    async def process_once(self, now: datetime) -> int:
        """One pass over due commands; meters in parallel, each meter's commands in order.
        Returns the number of commands looked at (sent, expired or superseded)."""
        claimed, closed = await asyncio.to_thread(self._claim, now)
        by_meter: dict[str, list[MeterCommand]] = defaultdict(list)
        for command in claimed:
            by_meter[command.meter_id].append(command)
        await asyncio.gather(*(self._send_all(cs, now) for cs in by_meter.values()))
        return len(claimed) + closed

    async def _send_all(self, commands: list[MeterCommand], now: datetime) -> None:
        async with self._slots:
            for command in commands:
                await self._send(command, now)

    async def _send(self, command: MeterCommand, now: datetime) -> None:
        transport = self._transports.get(command.meter_id)
        try:
            if transport is None:
                msg = f"no transport configured for meter {command.meter_id}"
                raise CommandUnconfirmedError(msg)
            confirmation = await transport.execute(command)
            wanted = _WANTED.get(command.action)
            if wanted and confirmation.relay not in (None, wanted):
                msg = f"meter reports relay {confirmation.relay} after {command.action}"
                raise CommandRefusedError(msg)
        except CommandError as exc:
            await asyncio.to_thread(self._record_failure, command, now, exc)
        else:
            await asyncio.to_thread(self._record_confirmed, command, now, wanted)

    def _claim(self, now: datetime) -> tuple[list[MeterCommand], int]:
        with UnitOfWork(self._engine) as uow:
            query = (
                select(mc)
                .where(mc.c.status.in_(("pending", "sent")), mc.c.next_attempt_at <= now)
                .order_by(mc.c.created_at, mc.c.id)
                .limit(self._batch_size)
            )
            if uow.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = uow.connection.execute(query).all()
            latest = _latest_by_kind(uow.connection, rows)
            claimed: list[MeterCommand] = []
            for row in rows:
                newest = latest[(row.meter_id, _kind(row.action))]
                if row.expires_at <= now:
                    reason = f"expired at {row.expires_at.isoformat()} without confirmation"
                    _close(uow.connection, row.id, "expired", reason)
                    self._count("expired")
                elif newest != row.id:
                    _close(uow.connection, row.id, "expired", f"superseded by {newest}")
                    self._count("superseded")
                else:
                    amount = (row.params or {}).get("amount")
                    claimed.append(
                        MeterCommand(
                            id=row.id,
                            meter_id=row.meter_id,
                            action=row.action,
                            amount=None if amount is None else Decimal(str(amount)),
                            expires_at=row.expires_at,
                            attempts=row.attempts,
                            created_at=row.created_at,
                        )
                    )
            if claimed:
                uow.connection.execute(
                    update(mc)
                    .where(mc.c.id.in_([c.id for c in claimed]))
                    .values(status="sent", next_attempt_at=now + self._lease)
                )
            uow.commit()
        return claimed, len(rows) - len(claimed)

    def _record_confirmed(self, command: MeterCommand, now: datetime, relay: str | None) -> None:
        with UnitOfWork(self._engine) as uow:
            uow.connection.execute(
                update(mc)
                .where(mc.c.id == command.id, mc.c.status == "sent")
                .values(status="confirmed", confirmed_at=now, attempts=command.attempts + 1)
            )
            if relay is not None:
                uow.connection.execute(
                    update(meters).where(meters.c.id == command.meter_id).values(relay=relay)
                )
            uow.commit()
        self._count("confirmed")
        logger.info("command %s (%s %s) confirmed", command.id, command.action, command.meter_id)

    def _record_failure(self, command: MeterCommand, now: datetime, error: CommandError) -> None:
        attempts = command.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_error": str(error)[:1000]}
        if isinstance(error, CommandRefusedError) and attempts >= self._max_refusals:
            values["status"] = "failed"
            self._count("failed")
        else:
            delay = timedelta(seconds=self._backoff.delay_s(attempts, self._rand()))
            values["next_attempt_at"] = min(now + delay, command.expires_at)
            self._count("unconfirmed_attempts")
        with UnitOfWork(self._engine) as uow:
            uow.connection.execute(
                update(mc).where(mc.c.id == command.id, mc.c.status == "sent").values(**values)
            )
            uow.commit()
        logger.warning(
            "command %s (%s %s) attempt %s: %s%s",
            command.id,
            command.action,
            command.meter_id,
            attempts,
            error,
            "; failed" if values.get("status") == "failed" else "",
        )


def _latest_by_kind(connection: Connection, rows: Sequence[Row[Any]]) -> dict[tuple[str, str], str]:
    """The newest command id per (meter, kind) among commands created at or after each
    meter's oldest due one: the only ones that can supersede it."""
    oldest: dict[str, datetime] = {}
    for row in rows:
        meter_id, created_at = row.meter_id, row.created_at
        oldest[meter_id] = min(oldest.get(meter_id, created_at), created_at)
    latest: dict[tuple[str, str], str] = {}
    for meter_id, since in oldest.items():
        query = (
            select(mc.c.id, mc.c.action)
            .where(mc.c.meter_id == meter_id, mc.c.created_at >= since)
            .order_by(mc.c.created_at, mc.c.id)
        )
        for command_id, action in connection.execute(query):
            latest[(meter_id, _kind(action))] = command_id
    return latest


def _close(connection: Connection, command_id: str, status: str, reason: str) -> None:
    connection.execute(
        update(mc).where(mc.c.id == command_id).values(status=status, last_error=reason)
    )
    logger.info("command %s %s: %s", command_id, status, reason)
