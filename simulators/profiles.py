"""Load profiles (what a household draws) and time-of-use band schedules for the simulators.

Powers are ``Decimal`` watts; a profile is a step function of time, so a meter can
integrate it exactly.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


class LoadProfile(Protocol):
    def power_w(self, at: datetime) -> Decimal:
        """Power drawn at ``at``, constant until ``next_change(at)``."""
        ...

    def next_change(self, at: datetime) -> datetime | None:
        """The next moment after ``at`` the power may change (``None``: never)."""
        ...


@dataclass(frozen=True, slots=True)
class ConstantLoad:
    watts: Decimal

    def power_w(self, at: datetime) -> Decimal:
        return self.watts

    def next_change(self, at: datetime) -> datetime | None:
        return None


@dataclass(frozen=True, slots=True)
class DailyCurve:
    """One power per local hour of the day (24 values), the same every day."""

    hourly_w: tuple[Decimal, ...]
    tz: ZoneInfo = CHINA

    def __post_init__(self) -> None:
        if len(self.hourly_w) != 24:
            msg = f"a daily curve needs 24 hourly values, got {len(self.hourly_w)}"
            raise ValueError(msg)

    def power_w(self, at: datetime) -> Decimal:
        return self.hourly_w[at.astimezone(self.tz).hour]

    def next_change(self, at: datetime) -> datetime | None:
        local = at.astimezone(self.tz).replace(minute=0, second=0, microsecond=0)
        return (local + timedelta(hours=1)).astimezone(UTC)


#: A typical household: low at night, a morning bump, an evening peak (about 8 kWh/day).
RESIDENTIAL = DailyCurve(
    tuple(
        Decimal(w)
        for w in (
            "150", "120", "110", "110", "120", "180", "450", "650",
            "400", "250", "220", "240", "320", "260", "220", "230",
            "300", "520", "850", "900", "780", "600", "380", "220",
        )
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecordedLoad:
    """A recorded power series (CSV ``timestamp,power_w``); each value holds until the next."""

    times: tuple[datetime, ...]
    watts: tuple[Decimal, ...]

    @classmethod
    def from_csv(cls, path: Path) -> RecordedLoad:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = sorted(
                (datetime.fromisoformat(row["timestamp"]), Decimal(row["power_w"]))
                for row in csv.DictReader(handle)
            )
        if not rows or any(at.tzinfo is None for at, _ in rows):
            msg = f"{path}: needs at least one row and aware ISO timestamps"
            raise ValueError(msg)
        return cls(tuple(at for at, _ in rows), tuple(w for _, w in rows))

    def power_w(self, at: datetime) -> Decimal:
        index = bisect.bisect_right(self.times, at) - 1
        return self.watts[max(index, 0)]

    def next_change(self, at: datetime) -> datetime | None:
        index = bisect.bisect_right(self.times, at)
        return self.times[index] if index < len(self.times) else None


@dataclass(frozen=True, slots=True)
class BandSchedule:
    """Time-of-use bands by local time of day: ``((time(0), "valley"), (time(8), "flat"), ...)``."""

    starts: tuple[tuple[time, str], ...]
    tz: ZoneInfo = CHINA

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0][0] != time(0):
            msg = "a band schedule starts at 00:00 and covers the whole day"
            raise ValueError(msg)
        if list(self.starts) != sorted(self.starts):
            msg = "band start times must be increasing"
            raise ValueError(msg)

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(band for _, band in self.starts))

    def band_at(self, at: datetime) -> str:
        local = at.astimezone(self.tz).time()
        index = bisect.bisect_right([start for start, _ in self.starts], local) - 1
        return self.starts[index][1]

    def next_change(self, at: datetime) -> datetime:
        local = at.astimezone(self.tz)
        for start, _ in self.starts:
            candidate = datetime.combine(local.date(), start, tzinfo=self.tz)
            if candidate > local:
                return candidate.astimezone(UTC)
        next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.tz)
        return next_day.astimezone(UTC)


SINGLE_BAND = BandSchedule(((time(0), "flat"),))

#: 尖峰平谷: a common four-band day.
FOUR_BANDS = BandSchedule(
    (
        (time(0), "valley"),
        (time(8), "flat"),
        (time(10), "peak"),
        (time(11), "sharp"),
        (time(13), "peak"),
        (time(15), "flat"),
        (time(18), "peak"),
        (time(19), "sharp"),
        (time(21), "peak"),
        (time(22), "flat"),
        (time(23), "valley"),
    )
)
