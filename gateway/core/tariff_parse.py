"""Build a TariffVersion from plain data (parsed YAML or JSON), naming the field at fault.

Accepted shape (see docs/tariffs.md for examples):

    tariff_id, version, effective_from (date = local midnight, or RFC 3339 with offset),
    timezone, currency, minor_unit, prices_include_tax, tax_rate, standing_charge_per_day,
    cycle: {period: monthly|annual, anchor_day, anchor_month},
    price_per_kwh                                   # flat shorthand, or
    tiers: [{up_to_kwh, price_per_kwh | prices: {band: price}}, ...],
    seasons: [{name, starts: "MM-DD"}], holidays: [date], weekend_days: [saturday, sunday],
    time_of_use: [{season, day_types: [weekday|weekend|holiday], windows: [{band, start, end}]}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.core.errors import TariffError
from gateway.core.localtime import local_midnight
from gateway.core.tariff import (
    ALL_DAY,
    BandWindow,
    BillingCycle,
    DaySchedule,
    DayType,
    Period,
    Season,
    TariffVersion,
)

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60


def parse_decimal(value: object, where: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    """A Decimal from a string, int or Decimal; a float only through its shortest repr."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TariffError(where, f"expected a decimal number, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:
        raise TariffError(where, f"not a decimal number: {value!r}") from exc
    if not number.is_finite():
        raise TariffError(where, f"must be finite, got {value!r}")
    if minimum is not None and number < minimum:
        raise TariffError(where, f"must be >= {minimum}, got {number}")
    return number


def _require(data: Mapping[str, Any], key: str, where: str = "") -> Any:
    if key not in data:
        raise TariffError(f"{where}{key}", "is required")
    return data[key]


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TariffError(where, f"expected a non-empty string, got {value!r}")
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TariffError(where, f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise TariffError(where, f"expected a list, got {value!r}")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TariffError(where, f"expected a mapping, got {value!r}")
    return value


def _date(value: object, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(_str(value, where))
    except ValueError as exc:
        raise TariffError(where, f"expected a date YYYY-MM-DD, got {value!r}") from exc


def _time(value: object, where: str) -> time:
    try:
        parsed = time.fromisoformat(_str(value, where))
    except ValueError as exc:
        raise TariffError(where, f"expected a local time HH:MM, got {value!r}") from exc
    if parsed.tzinfo is not None:
        raise TariffError(where, "band times are local wall-clock times, without an offset")
    return parsed


def _effective_from(value: object, tz: ZoneInfo) -> datetime:
    where = "effective_from"
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        try:
            instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        except ValueError as exc:
            raise TariffError(where, f"expected a date or RFC 3339 time, got {value!r}") from exc
        if instant.tzinfo is None:
            raise TariffError(where, "a time must carry its UTC offset")
        return instant.astimezone(ZoneInfo("UTC"))
    return local_midnight(_date(value, where), tz)


def _timezone(value: object) -> str:
    name = _str(value, "timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TariffError("timezone", f"unknown timezone {name!r}") from exc
    return name


def _cycle(value: object) -> BillingCycle:
    data = _mapping(value, "cycle")
    period_name = data.get("period", "monthly")
    if period_name not in tuple(Period):
        raise TariffError("cycle.period", f"must be monthly or annual, got {period_name!r}")
    return BillingCycle(
        period=Period(period_name),
        anchor_day=_int(data.get("anchor_day", 1), "cycle.anchor_day", 1, 28),
        anchor_month=_int(data.get("anchor_month", 1), "cycle.anchor_month", 1, 12),
    )


def _tiers(
    data: Mapping[str, Any],
) -> tuple[tuple[Decimal, ...], tuple[str, ...], list[dict[str, Decimal]]]:
    if "price_per_kwh" in data:
        if "tiers" in data:
            raise TariffError("price_per_kwh", "give either price_per_kwh or tiers, not both")
        raw_tiers: Sequence[Any] = [{"price_per_kwh": data["price_per_kwh"]}]
        prefix = ""
    else:
        raw_tiers = _list(_require(data, "tiers"), "tiers")
        prefix = "tiers"
    if not raw_tiers:
        raise TariffError("tiers", "at least one tier is required")
    bounds: list[Decimal] = []
    tables: list[dict[str, Decimal]] = []
    for index, raw in enumerate(raw_tiers):
        where = f"{prefix}[{index}]." if prefix else ""
        tier = _mapping(raw, f"{prefix}[{index}]")
        last = index == len(raw_tiers) - 1
        if last and tier.get("up_to_kwh") is not None:
            raise TariffError(f"{where}up_to_kwh", "the last tier has no upper bound")
        if not last:
            bound = parse_decimal(_require(tier, "up_to_kwh", where), f"{where}up_to_kwh")
            floor = bounds[-1] if bounds else Decimal(0)
            if bound <= floor:
                raise TariffError(
                    f"{where}up_to_kwh", f"tier bounds must increase: {bound} is not above {floor}"
                )
            bounds.append(bound)
        tables.append(_tier_prices(tier, where))
    bands = tuple(tables[0])
    for index, table in enumerate(tables):
        if set(table) != set(bands):
            where = f"{prefix}[{index}].prices" if prefix else "prices"
            raise TariffError(where, f"every tier must price the same bands {sorted(bands)}")
    return tuple(bounds), bands, tables


def _tier_prices(tier: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    if ("price_per_kwh" in tier) == ("prices" in tier):
        raise TariffError(f"{where}prices", "give exactly one of price_per_kwh or prices")
    if "price_per_kwh" in tier:
        return {ALL_DAY: parse_decimal(tier["price_per_kwh"], f"{where}price_per_kwh")}
    prices = _mapping(tier["prices"], f"{where}prices")
    if not prices:
        raise TariffError(f"{where}prices", "at least one band price is required")
    return {
        _str(band, f"{where}prices"): parse_decimal(price, f"{where}prices.{band}")
        for band, price in prices.items()
    }


def _seasons(value: object) -> tuple[Season, ...]:
    seasons = []
    for index, raw in enumerate(_list(value, "seasons")):
        where = f"seasons[{index}]"
        item = _mapping(raw, where)
        starts = _str(_require(item, "starts", f"{where}."), f"{where}.starts")
        try:
            start = date.fromisoformat(f"2000-{starts}")
        except ValueError as exc:
            raise TariffError(f"{where}.starts", f"expected MM-DD, got {starts!r}") from exc
        seasons.append(
            Season(
                _str(_require(item, "name", f"{where}."), f"{where}.name"), start.month, start.day
            )
        )
    seasons.sort(key=lambda s: (s.start_month, s.start_day))
    for earlier, later in pairwise(seasons):
        if (earlier.start_month, earlier.start_day) == (later.start_month, later.start_day):
            raise TariffError("seasons", f"{earlier.name} and {later.name} start on the same day")
    if len({s.name for s in seasons}) != len(seasons):
        raise TariffError("seasons", "season names must be unique")
    return tuple(seasons)


def _windows(value: object, where: str, bands: tuple[str, ...]) -> tuple[BandWindow, ...]:
    """Windows that cover the day exactly once; refuse overlaps and gaps, naming them."""
    windows = []
    pieces: list[tuple[int, int, int]] = []
    for index, raw in enumerate(_list(value, where)):
        item_where = f"{where}[{index}]"
        item = _mapping(raw, item_where)
        band = _str(_require(item, "band", f"{item_where}."), f"{item_where}.band")
        if band not in bands:
            raise TariffError(f"{item_where}.band", f"band {band!r} has no price in the tiers")
        start = _time(_require(item, "start", f"{item_where}."), f"{item_where}.start")
        end = _time(_require(item, "end", f"{item_where}."), f"{item_where}.end")
        windows.append(BandWindow(band, start, end))
        first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        if start.second or end.second or start.microsecond or end.microsecond:
            raise TariffError(f"{item_where}.start", "band times are whole minutes")
        if last == 0:
            last = MINUTES_PER_DAY
        if first == last:
            raise TariffError(f"{item_where}.end", "a window must not be empty")
        if last > first:
            pieces.append((first, last, index))
        else:
            pieces += [(first, MINUTES_PER_DAY, index), (0, last, index)]
    pieces.sort()
    cursor = 0
    for first, last, index in pieces:
        if first < cursor:
            raise TariffError(f"{where}[{index}]", f"overlaps another window at {_hhmm(first)}")
        if first > cursor:
            raise TariffError(where, f"gap in the day from {_hhmm(cursor)} to {_hhmm(first)}")
        cursor = last
    if cursor != MINUTES_PER_DAY:
        raise TariffError(where, f"gap in the day from {_hhmm(cursor)} to 24:00")
    return tuple(windows)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _schedules(
    value: object, bands: tuple[str, ...], seasons: tuple[Season, ...]
) -> tuple[DaySchedule, ...]:
    season_names = [s.name for s in seasons] or [""]
    covered: dict[tuple[str, DayType], int] = {}
    schedules = []
    for index, raw in enumerate(_list(value, "time_of_use")):
        where = f"time_of_use[{index}]"
        item = _mapping(raw, where)
        season = item.get("season", "" if not seasons else None)
        if season not in season_names:
            raise TariffError(f"{where}.season", f"must be one of {season_names}, got {season!r}")
        raw_types = _list(item.get("day_types", [t.value for t in DayType]), f"{where}.day_types")
        day_types = set()
        for type_index, name in enumerate(raw_types):
            if name not in tuple(DayType):
                raise TariffError(f"{where}.day_types[{type_index}]", f"unknown day type {name!r}")
            day_type = DayType(name)
            if (season, day_type) in covered:
                raise TariffError(
                    f"{where}.day_types[{type_index}]",
                    f"{name} is already scheduled by time_of_use[{covered[season, day_type]}]",
                )
            covered[season, day_type] = index
            day_types.add(day_type)
        windows = _windows(_require(item, "windows", f"{where}."), f"{where}.windows", bands)
        schedules.append(DaySchedule(season, frozenset(day_types), windows))
    for season in season_names:
        for day_type in DayType:
            if (season, day_type) not in covered:
                label = f"season {season!r} on {day_type}" if season else f"{day_type}"
                raise TariffError("time_of_use", f"no band schedule for {label}")
    used = {window.band for schedule in schedules for window in schedule.windows}
    for band in bands:
        if band not in used:
            raise TariffError("time_of_use", f"band {band!r} is priced but never scheduled")
    return tuple(schedules)


def parse_tariff_version(data: Mapping[str, Any]) -> TariffVersion:
    """Validate plain data and build an immutable TariffVersion, or raise TariffError."""
    data = _mapping(data, "tariff")
    timezone = _timezone(_require(data, "timezone"))
    tz = ZoneInfo(timezone)
    currency = _str(_require(data, "currency"), "currency")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise TariffError("currency", f"expected an ISO 4217 code like EUR, got {currency!r}")
    bounds, bands, tables = _tiers(data)
    seasons = _seasons(data.get("seasons", []))
    if "time_of_use" in data:
        schedules = _schedules(data["time_of_use"], bands, seasons)
    elif bands == (ALL_DAY,) and not seasons:
        every_day = frozenset(DayType)
        schedules = (DaySchedule("", every_day, (BandWindow(ALL_DAY, time(0), time(0)),)),)
    else:
        raise TariffError("time_of_use", f"bands {list(bands)} need a time_of_use schedule")
    weekend = _list(data.get("weekend_days", ["saturday", "sunday"]), "weekend_days")
    for index, name in enumerate(weekend):
        if name not in DAY_NAMES:
            raise TariffError(f"weekend_days[{index}]", f"unknown day {name!r}")
    return TariffVersion(
        tariff_id=_str(_require(data, "tariff_id"), "tariff_id"),
        name=str(data.get("name", "")),
        version=_int(_require(data, "version"), "version", 1, 1_000_000),
        effective_from=_effective_from(_require(data, "effective_from"), tz),
        timezone=timezone,
        currency=currency,
        minor_unit=_int(data.get("minor_unit", 2), "minor_unit", 0, 4),
        tier_bounds_kwh=bounds,
        bands=bands,
        prices=tuple(tuple(table[band] for band in bands) for table in tables),
        schedules=schedules,
        seasons=seasons,
        holidays=frozenset(
            _date(day, f"holidays[{i}]")
            for i, day in enumerate(_list(data.get("holidays", []), "holidays"))
        ),
        weekend_days=frozenset(DAY_NAMES.index(name) for name in weekend),
        cycle=_cycle(data.get("cycle", {})),
        standing_charge_per_day=parse_decimal(
            data.get("standing_charge_per_day", 0), "standing_charge_per_day"
        ),
        tax_rate=parse_decimal(data.get("tax_rate", 0), "tax_rate"),
        prices_include_tax=_bool(data.get("prices_include_tax", True), "prices_include_tax"),
    )


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise TariffError(where, f"expected true or false, got {value!r}")
    return value
