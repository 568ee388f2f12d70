"""The ledger sink: where the drivers' readings enter the ledger.

`LedgerSink` is the MQTT driver's `Sink` port: one call commits one batch through
`record_readings` in one `UnitOfWork` and returns only after the commit, so the MQTT client
acknowledges only committed readings; a database failure raises, so nothing is acked and the
broker redelivers. `PollerSink` is the Modbus `Poller`'s async sink: it groups the samples of a
cycle (by count or time) into one such commit, run in a worker thread off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import Engine

from drivers.base import MeterSample
from drivers.mqtt import MqttReading
from gateway.ledger.controls import ControlPolicy
from gateway.ledger.ingest import REJECTED, IngestResult, ReadingIn, record_readings
from gateway.ledger.tariffs import TariffCache
from gateway.storage.db import UnitOfWork

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def reading_from_mqtt(reading: MqttReading) -> ReadingIn:
    """An MQTT reading as the ledger takes it; the meter's balance, relay and bands kept."""
    return ReadingIn(
        meter_id=reading.meter_id,
        ts=reading.ts,
        energy_kwh=reading.energy_kwh,
        source=f"mqtt:{reading.source_topic}"[:200],
        bands_kwh=dict(reading.bands_kwh) or None,
        balance=reading.balance,
        relay=reading.relay,
        received_at=reading.received_at,
    )


def reading_from_sample(sample: MeterSample) -> ReadingIn:
    """A polled sample as the ledger takes it: meter time is when the energy reply came."""
    return ReadingIn(
        meter_id=sample.meter_id,
        ts=sample.read_at,
        energy_kwh=sample.energy_kwh,
        source=f"modbus:{sample.source}"[:200],
        bands_kwh=dict(sample.bands_kwh) if sample.bands_kwh else None,
        balance=sample.balance,
        relay=sample.relay,
        received_at=sample.read_at,
    )


class LedgerSink:
    """Commits batches of readings to the ledger, one transaction per call.

    Thread-safe in the way the ledger is: concurrent calls lock meters and accounts in id
    order, and SQLite queues writers (`BEGIN IMMEDIATE`). `outcomes` counts the ledger's
    results (accepted, out_of_order, quarantined, rejected, duplicate) for monitoring.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        tariffs: TariffCache | None = None,
        clock: Callable[[], datetime] = utc_now,
        policy: ControlPolicy | None = None,
    ) -> None:
        self._engine = engine
        self._tariffs = tariffs or TariffCache()
        self._clock = clock
        self._policy = policy  # credit control: alerts and relay commands in the same commit
        self.outcomes: Counter[str] = Counter()

    def __call__(self, batch: Sequence[MqttReading]) -> None:
        """The MQTT `Sink`: returns after the commit; raises (so no ack) if it failed."""
        self.commit([reading_from_mqtt(reading) for reading in batch])

    def commit(self, batch: Sequence[ReadingIn]) -> list[IngestResult]:
        """Record `batch` in one transaction and commit it; results in batch order."""
        with UnitOfWork(self._engine) as uow:
            results = record_readings(
                uow, batch, now=self._clock(), tariffs=self._tariffs, policy=self._policy
            )
            uow.commit()
        self._count(results)
        return results

    def _count(self, results: list[IngestResult]) -> None:
        for result in results:
            self.outcomes["duplicate" if result.duplicate else result.outcome] += 1
            if result.outcome == REJECTED and not result.duplicate:
                logger.warning("reading refused by the ledger: %s", result.reason)


class PollerSink:
    """The Modbus `Poller`'s sink: samples grouped into one ledger commit per batch.

    A call waits until the batch holding its sample is committed (or raises what the commit
    raised, which the poller logs and counts); so a poll finishes only once its reading is
    stored. A batch is committed when it holds `max_samples`, or `max_wait_s` after its first
    sample. Commits run one at a time, in order, on one worker thread. A lost sample costs
    nothing: the register is cumulative, the next poll carries the energy.
    """

    def __init__(
        self, sink: LedgerSink, *, max_samples: int = 500, max_wait_s: float = 0.2
    ) -> None:
        if max_samples < 1 or max_wait_s < 0:
            msg = "max_samples must be >= 1 and max_wait_s >= 0"
            raise ValueError(msg)
        self._sink = sink
        self.max_samples = max_samples
        self.max_wait_s = max_wait_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-commit")
        self._pending: list[ReadingIn] = []
        self._batch_done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._commits: set[asyncio.Task[None]] = set()
        self.batches_committed = 0

    async def __call__(self, sample: MeterSample) -> None:
        reading = reading_from_sample(sample)
        loop = asyncio.get_running_loop()
        if self._batch_done is None:
            self._batch_done = loop.create_future()
            self._timer = loop.call_later(self.max_wait_s, self._flush)
        done = self._batch_done
        self._pending.append(reading)
        if len(self._pending) >= self.max_samples:
            self._flush()
        await asyncio.shield(done)  # a cancelled poll must not cancel its batch-mates

    async def aclose(self) -> None:
        """Commit what is pending, wait for every commit, stop the worker thread."""
        self._flush()
        if self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)
        self._executor.shutdown(wait=True)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        done, batch = self._batch_done, self._pending
        if done is None:
            return
        self._batch_done, self._pending = None, []
        task = asyncio.get_running_loop().create_task(self._commit(batch, done))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _commit(self, batch: list[ReadingIn], done: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._sink.commit, batch)
        except Exception as exc:  # noqa: BLE001 - not swallowed: every waiting poll gets it
            logger.warning("ledger commit of %d samples failed: %s", len(batch), exc)
            done.set_exception(exc)
        else:
            self.batches_committed += 1
            done.set_result(None)
