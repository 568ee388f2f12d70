"""Local wall-clock time to UTC instants, correct across DST gaps and repeats."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in `tz` shows `day` `at`.

    A repeated wall time (clocks go back) is its first occurrence. A wall time that does not
    exist (clocks go forward) is the instant the clocks jumped past it, so boundaries built
    from a sorted list of wall times are sorted instants too.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    # Smallest instant in [low, high] whose wall time is at or past `naive`: the jump.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz`."""
    return local_to_utc(day, time(0), tz)


def require_aware(value: datetime, name: str) -> None:
    """Refuse a naive datetime: every instant in the gateway carries its offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must be timezone-aware, got naive {value.isoformat()}"
        raise ValueError(msg)
