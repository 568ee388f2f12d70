"""``Poller``: polls many meters on an interval and pushes each new sample to a sink.

It works with any ``drivers.base.MeterDriver``. Every ``interval_s`` (on a fixed
cadence, never drifting) it starts a poll for each meter that is due and not still in
flight. A meter goes offline after ``offline_after`` consecutive failures and is then
only re-probed every ``reprobe_interval_s``, so a dead meter does not eat bus time. A
failure is logged and counted, never silent, and never stops the loop; a failed poll
produces no sample (the last value is never re-sent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from drivers.base import MeterDriver, MeterSample
from drivers.errors import DriverError
from drivers.modbus.driver import utc_now

logger = logging.getLogger(__name__)

Sink = Callable[[MeterSample], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MeterStatus:
    meter_id: str
    online: bool = True
    consecutive_failures: int = 0
    polls_ok: int = 0
    polls_failed: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None
    next_probe_monotonic_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CycleReport:
    index: int
    started_monotonic_s: float
    duration_s: float
    polled: int
    failed: int
    skipped_in_flight: int


class Poller:
    def __init__(
        self,
        drivers: Sequence[MeterDriver],
        *,
        sink: Sink,
        interval_s: float,
        offline_after: int = 3,
        reprobe_interval_s: float = 60.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._drivers = {driver.meter_id: driver for driver in drivers}
        self._sink = sink
        self.interval_s = interval_s
        self.offline_after = offline_after
        self.reprobe_interval_s = reprobe_interval_s
        self._clock = clock
        self._status = {meter_id: MeterStatus(meter_id) for meter_id in self._drivers}
        self._in_flight: set[str] = set()
        self.cycles: deque[CycleReport] = deque(maxlen=1000)  # the most recent cycles
        self._cycle_tasks: set[asyncio.Task[None]] = set()

    def status(self, meter_id: str) -> MeterStatus:
        return self._status[meter_id]

    def statuses(self) -> dict[str, MeterStatus]:
        return dict(self._status)

    async def run(self, *, cycles: int | None = None) -> None:
        """Poll until cancelled (or for ``cycles`` ticks, then wait for them to finish)."""
        start = time.monotonic()
        index = 0
        try:
            while True:
                self._start_cycle(index)
                index += 1
                if cycles is not None and index >= cycles:
                    break
                next_tick = start + index * self.interval_s
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            await asyncio.gather(*self._cycle_tasks)
        finally:
            for task in self._cycle_tasks:
                task.cancel()

    def _start_cycle(self, index: int) -> None:
        now = time.monotonic()
        due = [
            meter_id
            for meter_id, status in self._status.items()
            if meter_id not in self._in_flight
            and (status.online or now >= status.next_probe_monotonic_s)
        ]
        skipped = sum(1 for meter_id in self._status if meter_id in self._in_flight)
        self._in_flight.update(due)
        task = asyncio.create_task(self._cycle(index, now, due, skipped))
        self._cycle_tasks.add(task)
        task.add_done_callback(self._cycle_tasks.discard)

    async def _cycle(self, index: int, started: float, due: list[str], skipped: int) -> None:
        results = await asyncio.gather(*(self.poll_once(meter_id) for meter_id in due))
        self.cycles.append(
            CycleReport(
                index=index,
                started_monotonic_s=started,
                duration_s=time.monotonic() - started,
                polled=len(due),
                failed=results.count(False),
                skipped_in_flight=skipped,
            )
        )

    async def poll_once(self, meter_id: str) -> bool:
        """Poll one meter now; push its sample. Returns whether it succeeded."""
        self._in_flight.add(meter_id)
        try:
            sample = await self._drivers[meter_id].read()
        except DriverError as exc:
            self._record_failure(meter_id, exc)
            return False
        except Exception as exc:  # a bug must not stop polling: logged and counted
            logger.exception("meter %s: unexpected error while polling", meter_id)
            self._record_failure(meter_id, exc)
            return False
        finally:
            self._in_flight.discard(meter_id)
        self._record_success(meter_id, sample)
        try:
            await self._sink(sample)
        except Exception:  # the sink's failure is the sink's to report; keep polling
            logger.exception("meter %s: sink rejected a sample", meter_id)
            return False
        return True

    def _record_success(self, meter_id: str, sample: MeterSample) -> None:
        status = self._status[meter_id]
        if not status.online:
            logger.info("meter %s is back online", meter_id)
        self._status[meter_id] = replace(
            status,
            online=True,
            consecutive_failures=0,
            polls_ok=status.polls_ok + 1,
            last_success_at=sample.read_at,
            last_error=None,
        )

    def _record_failure(self, meter_id: str, exc: Exception) -> None:
        status = self._status[meter_id]
        failures = status.consecutive_failures + 1
        online = failures < self.offline_after
        if status.online and not online:
            logger.warning("meter %s offline after %d failures: %s", meter_id, failures, exc)
        else:
            logger.info("meter %s poll failed (%d in a row): %s", meter_id, failures, exc)
        self._status[meter_id] = replace(
            status,
            online=online,
            consecutive_failures=failures,
            polls_failed=status.polls_failed + 1,
            last_error=f"{type(exc).__name__}: {exc}",
            next_probe_monotonic_s=time.monotonic() + self.reprobe_interval_s,
        )
