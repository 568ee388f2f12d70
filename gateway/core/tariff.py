"""Tariffs: immutable, versioned by effective date, timezone-aware.

One shape covers every kind: a price table of tiers x bands. A flat tariff is one tier and one
band; inclining blocks are several tiers and one band; time of use is one tier and several
bands; combined is both. Tiers count consumption accumulated in a billing cycle; bands come
from a time-of-use schedule by local time of day, day type and season. Build tariffs with
`gateway.core.tariff_parse.parse_tariff_version`, which validates and names the bad field.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from gateway.core.errors import NoTariffInForceError, TariffError
from gateway.core.localtime import local_midnight, local_to_utc
from gateway.core.money import minor_quantum

ALL_DAY = "all_day"


class Period(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class DayType(StrEnum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


@dataclass(frozen=True, slots=True)
class BillingCycle:
    """Monthly or annual, starting at local midnight on the anchor day (1-28)."""

    period: Period = Period.MONTHLY
    anchor_day: int = 1
    anchor_month: int = 1

    @property
    def months(self) -> int:
        return 1 if self.period is Period.MONTHLY else 12

    def start_of(self, day: date) -> date:
        """First local day of the cycle that contains `day`."""
        if self.period is Period.MONTHLY:
            start = day.replace(day=self.anchor_day)
            if start > day:
                start = _add_months(start, -1)
            return start
        start = date(day.year, self.anchor_month, self.anchor_day)
        return start if start <= day else start.replace(year=day.year - 1)

    def next_start(self, start: date) -> date:
        return _add_months(start, self.months)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


@dataclass(frozen=True, slots=True)
class BandWindow:
    """`band` applies from `start` to `end` local time; `end` 00:00 means midnight."""

    band: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """The bands of one season on the listed day types, covering the day exactly once."""

    season: str
    day_types: frozenset[DayType]
    windows: tuple[BandWindow, ...]

    def band_starts(self) -> tuple[tuple[time, str], ...]:
        """(local start, band) pairs in time order from 00:00, windows past midnight split."""
        starts = {window.start: window.band for window in self.windows}
        for window in self.windows:
            if window.end != time(0) and window.end < window.start:
                starts.setdefault(time(0), window.band)
        return tuple(sorted(starts.items()))


@dataclass(frozen=True, slots=True)
class Season:
    """A season runs from its start (month, day) until the next season starts."""

    name: str
    start_month: int
    start_day: int


@dataclass(frozen=True, slots=True)
class DaySlice:
    """One band over a stretch of one local day, as UTC instants."""

    start: datetime
    end: datetime
    band: int


@dataclass(frozen=True, slots=True)
class DayPlan:
    """A local day of one tariff version: its band slices and the billing cycle it is in."""

    day: date
    start: datetime
    end: datetime
    slices: tuple[DaySlice, ...]
    cycle_start: datetime
    day_type: DayType
    season: str


@dataclass(frozen=True, slots=True)
class TariffVersion:
    """One version of a tariff, in force from `effective_from` until the next version."""

    tariff_id: str
    version: int
    effective_from: datetime
    timezone: str
    currency: str
    minor_unit: int
    tier_bounds_kwh: tuple[Decimal, ...]
    bands: tuple[str, ...]
    prices: tuple[tuple[Decimal, ...], ...]
    schedules: tuple[DaySchedule, ...]
    seasons: tuple[Season, ...] = ()
    holidays: frozenset[date] = frozenset()
    weekend_days: frozenset[int] = frozenset({5, 6})
    cycle: BillingCycle = BillingCycle()
    standing_charge_per_day: Decimal = Decimal(0)
    tax_rate: Decimal = Decimal(0)
    prices_include_tax: bool = True
    name: str = ""
    tz: ZoneInfo = field(init=False, repr=False, compare=False)
    quantum: Decimal = field(init=False, repr=False, compare=False)
    _by_day: dict[tuple[str, DayType], tuple[tuple[time, int], ...]] = field(
        init=False, repr=False, compare=False
    )
    _plans: dict[date, DayPlan] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ValueError, KeyError) as exc:
            raise TariffError("timezone", f"unknown timezone {self.timezone!r}") from exc
        object.__setattr__(self, "tz", tz)
        object.__setattr__(self, "quantum", minor_quantum(self.minor_unit))
        band_index = {band: index for index, band in enumerate(self.bands)}
        by_day = {}
        for schedule in self.schedules:
            starts = tuple((at, band_index[band]) for at, band in schedule.band_starts())
            for day_type in schedule.day_types:
                by_day[schedule.season, day_type] = starts
        object.__setattr__(self, "_by_day", by_day)
        object.__setattr__(self, "_plans", {})

    @property
    def label(self) -> str:
        return f"{self.tariff_id}@v{self.version}"

    @property
    def is_time_of_use(self) -> bool:
        return len(self.bands) > 1

    def tier_bounds(self, extra_kwh_per_month: Decimal) -> tuple[Decimal, ...]:
        """Tier upper bounds, each raised by the account's allowance for this cycle."""
        if not extra_kwh_per_month:
            return self.tier_bounds_kwh
        extra = extra_kwh_per_month * self.cycle.months
        return tuple(bound + extra for bound in self.tier_bounds_kwh)

    def day_type(self, day: date) -> DayType:
        if day in self.holidays:
            return DayType.HOLIDAY
        return DayType.WEEKEND if day.weekday() in self.weekend_days else DayType.WEEKDAY

    def season(self, day: date) -> str:
        if not self.seasons:
            return ""
        key = (day.month, day.day)
        current = self.seasons[-1].name  # the last season wraps round the new year
        for season in self.seasons:
            if (season.start_month, season.start_day) <= key:
                current = season.name
        return current

    def plan(self, day: date) -> DayPlan:
        """The band slices of local `day`; pure, memoised on the version."""
        cached = self._plans.get(day)
        if cached is not None:
            return cached
        if len(self._plans) > 8192:
            self._plans.clear()
        tz = self.tz
        start = local_midnight(day, tz)
        end = local_midnight(day + timedelta(days=1), tz)
        day_type, season = self.day_type(day), self.season(day)
        starts = self._by_day[season, day_type]
        instants = [local_to_utc(day, at, tz) for at, _ in starts[1:]]
        bounds = [start, *(max(start, min(end, instant)) for instant in instants), end]
        slices = tuple(
            DaySlice(bounds[i], bounds[i + 1], band)
            for i, (_, band) in enumerate(starts)
            if bounds[i + 1] > bounds[i]
        )
        cycle_day = self.cycle.start_of(day)
        plan = DayPlan(day, start, end, slices, local_midnight(cycle_day, tz), day_type, season)
        self._plans[day] = plan
        return plan

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


@dataclass(frozen=True, slots=True)
class Tariff:
    """All versions of one tariff, ordered by effective date."""

    versions: tuple[TariffVersion, ...]
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise TariffError("versions", "a tariff needs at least one version")
        ordered = tuple(sorted(self.versions, key=lambda v: v.effective_from))
        first = ordered[0]
        for index, version in enumerate(ordered):
            where = f"versions[{index}]"
            if version.tariff_id != first.tariff_id:
                raise TariffError(f"{where}.tariff_id", "all versions must share one tariff id")
            if (version.currency, version.minor_unit) != (first.currency, first.minor_unit):
                raise TariffError(f"{where}.currency", "all versions must share one currency")
            if index and version.effective_from == ordered[index - 1].effective_from:
                raise TariffError(f"{where}.effective_from", "two versions take effect at once")
        object.__setattr__(self, "versions", ordered)
        object.__setattr__(self, "_starts", tuple(v.effective_from for v in ordered))

    def in_force(self, instant: datetime) -> int:
        """Index of the version in force at `instant`."""
        index = bisect_right(self._starts, instant) - 1
        if index < 0:
            first = self.versions[0]
            msg = f"no version of {first.tariff_id} is in force at {instant.isoformat()}"
            raise NoTariffInForceError(msg)
        return index

    def spans(
        self, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime, TariffVersion]]:
        """The versions in force over [start, end), each with the part it covers."""
        index = self.in_force(start)
        spans = []
        while True:
            next_start = self._starts[index + 1] if index + 1 < len(self._starts) else None
            span_end = end if next_start is None or next_start >= end else next_start
            spans.append((start, span_end, self.versions[index]))
            if span_end >= end:
                return spans
            start, index = span_end, index + 1
