"""The scheduler: a failing job is logged and counted and never stops the others."""

import asyncio
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.runtime.scheduler import DailyAt, Scheduler

LONDON = ZoneInfo("Europe/London")


def test_daily_at_is_local_time_across_the_clock_change() -> None:
    trigger = DailyAt(time(0, 5), LONDON)
    winter = trigger.first(datetime(2025, 3, 29, 12, tzinfo=UTC))
    assert winter == datetime(2025, 3, 30, 0, 5, tzinfo=UTC)  # GMT
    summer = trigger.following(winter, winter)
    assert summer == datetime(2025, 3, 30, 23, 5, tzinfo=UTC)  # 00:05 BST


@pytest.mark.anyio
async def test_a_failing_job_is_counted_and_the_loop_goes_on() -> None:
    stop = asyncio.Event()
    seen: list[str] = []
    observed: list[tuple[str, bool]] = []

    def broken(_now: datetime) -> None:
        seen.append("broken")
        msg = "database gone"
        raise RuntimeError(msg)

    def healthy(_now: datetime) -> None:
        seen.append("healthy")
        if seen.count("healthy") >= 3 and seen.count("broken") >= 3:
            stop.set()

    scheduler = Scheduler(observe=lambda name, ok, _s: observed.append((name, ok)))
    scheduler.every("broken", 0.01, broken)
    scheduler.every("healthy", 0.01, healthy)
    await asyncio.wait_for(scheduler.run(stop), timeout=10)
    assert scheduler.failures["broken"] == scheduler.runs["broken"] >= 3
    assert scheduler.failures["healthy"] == 0
    assert ("broken", False) in observed
    assert ("healthy", True) in observed
    with pytest.raises(ValueError, match="registered twice"):
        scheduler.every("healthy", 1, healthy)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
