"""A small scheduler for the gateway's periodic jobs: every N seconds, or daily at a local time.

A job is a plain callable `job(now) -> None` (UTC `now`), run in a worker thread so a job
that touches the database never blocks the event loop. One job's exception is logged and
counted, and the job runs again at its next time: nothing stops the loop but `stop`.
A job never overlaps itself; a run that overruns its interval delays the next one.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

Job = Callable[[datetime], None]
Observer = Callable[[str, bool, float], None]  # job name, succeeded, duration in seconds


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Every:
    interval_s: float
    first_after_s: float = 0.0

    def first(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.first_after_s)

    def following(self, previous: datetime, now: datetime) -> datetime:
        return max(previous + timedelta(seconds=self.interval_s), now)


@dataclass(frozen=True, slots=True)
class DailyAt:
    """Once a day at `at` local time in `zone`; a time the clocks skip runs when they jump."""

    at: time
    zone: ZoneInfo

    def first(self, now: datetime) -> datetime:
        return self._next_after(now)

    def following(self, previous: datetime, now: datetime) -> datetime:
        return self._next_after(max(previous, now))

    def _next_after(self, moment: datetime) -> datetime:
        local_day = moment.astimezone(self.zone).date()
        for offset in range(3):
            day = local_day + timedelta(days=offset)
            candidate = datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)
            if candidate > moment:
                return candidate
        raise AssertionError  # pragma: no cover - one of three days is always later


Trigger = Every | DailyAt


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    name: str
    job: Job
    trigger: Trigger


class Scheduler:
    """Jobs registered by name, run until `stop` is set. `runs` and `failures` count by name."""

    def __init__(
        self, *, clock: Callable[[], datetime] = utc_now, observe: Observer | None = None
    ) -> None:
        self._clock = clock
        self._observe = observe
        self._jobs: dict[str, ScheduledJob] = {}
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    @property
    def jobs(self) -> tuple[ScheduledJob, ...]:
        return tuple(self._jobs.values())

    def every(self, name: str, interval_s: float, job: Job, *, first_after_s: float = 0) -> None:
        if interval_s <= 0:
            msg = f"job {name}: interval_s must be > 0, got {interval_s}"
            raise ValueError(msg)
        self._add(ScheduledJob(name, job, Every(interval_s, first_after_s)))

    def daily_at(self, name: str, at: time, zone: ZoneInfo, job: Job) -> None:
        self._add(ScheduledJob(name, job, DailyAt(at, zone)))

    def _add(self, scheduled: ScheduledJob) -> None:
        if scheduled.name in self._jobs:
            msg = f"job {scheduled.name!r} is registered twice"
            raise ValueError(msg)
        self._jobs[scheduled.name] = scheduled

    async def run(self, stop: asyncio.Event) -> None:
        """Run every job on its trigger until `stop`; a running job is let finish."""
        async with asyncio.TaskGroup() as group:
            for scheduled in self._jobs.values():
                group.create_task(self._loop(scheduled, stop), name=f"job:{scheduled.name}")

    async def run_once(self, name: str) -> bool:
        """Run one job now (tests, operators); True if it succeeded."""
        return await self._run(self._jobs[name])

    async def _loop(self, scheduled: ScheduledJob, stop: asyncio.Event) -> None:
        due = scheduled.trigger.first(self._clock())
        while not stop.is_set():
            wait_s = (due - self._clock()).total_seconds()
            if wait_s > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(wait_s, 60.0))
                except TimeoutError:
                    continue  # re-read the clock: wake at most a minute late after a jump
                return
            await self._run(scheduled)
            due = scheduled.trigger.following(due, self._clock())

    async def _run(self, scheduled: ScheduledJob) -> bool:
        started = monotonic.monotonic()
        ok = True
        try:
            await asyncio.to_thread(scheduled.job, self._clock())
        except Exception:
            ok = False
            self.failures[scheduled.name] += 1
            logger.exception(
                "job %s failed",
                scheduled.name,
                extra={"event": "job_failed", "job": scheduled.name},
            )
        self.runs[scheduled.name] += 1
        if self._observe is not None:
            self._observe(scheduled.name, ok, monotonic.monotonic() - started)
        return ok
