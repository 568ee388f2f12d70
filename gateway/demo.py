"""The rating demo: a month of 15-minute readings for one account, rated and explained.

Pure data in, a ledger out; printing lives in gateway.ledger_table. Runs with no services.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from zoneinfo import ZoneInfo

import yaml

from gateway.core.deduction import CycleState, Deduction, MeterReading
from gateway.core.rating import rate_interval, rate_standing_charge
from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version

REGISTER_RESOLUTION_KWH = Decimal("0.01")
STEP = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry of the demo: a deduction and the balance around it."""

    sequence: int
    deduction: Deduction
    previous: MeterReading | None
    current: MeterReading | None
    balance_before: Decimal
    balance_after: Decimal


def load_demo_tariff() -> Tariff:
    text = resources.files("gateway.samples").joinpath("demo_tariff.yaml").read_text("utf-8")
    return Tariff((parse_tariff_version(yaml.safe_load(text)),))


def household_power_w(local: datetime, index: int) -> int:
    """A deterministic residential curve: base load, breakfast, evening, weekend daytime."""
    minute = local.hour * 60 + local.minute
    watts = 180 + (index * 7919) % 160  # fridge cycling, reproducible
    if 390 <= minute < 510:
        watts += 700
    if 1080 <= minute < 1350:
        watts += 1400
    if local.weekday() >= 5 and 600 <= minute < 960:
        watts += 500
    return watts


def readings(month_start: date, tz: ZoneInfo, gap: tuple[datetime, datetime]) -> list[MeterReading]:
    """Register readings every 15 minutes for a month, missing the readings inside `gap`."""
    start = datetime.combine(month_start, datetime.min.time(), tz).astimezone(UTC)
    end = datetime.combine(_next_month(month_start), datetime.min.time(), tz).astimezone(UTC)
    true_kwh = Decimal("4182.417")  # what the register showed at installation, plus use
    result = []
    for index, at in enumerate(_steps(start, end)):
        if not gap[0] < at < gap[1]:
            register = true_kwh.quantize(REGISTER_RESOLUTION_KWH, rounding=ROUND_DOWN)
            result.append(MeterReading(at, register))
        true_kwh += Decimal(household_power_w(at.astimezone(tz), index)) * 15 / 60 / 1000
    return result


def _steps(start: datetime, end: datetime) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += STEP


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def run_demo(opening_balance: Decimal = Decimal("300.00")) -> tuple[Tariff, list[Entry]]:
    """Rate June 2024 for one account: every reading, and a standing charge each day."""
    tariff = load_demo_tariff()
    tz = tariff.versions[0].tz
    june = date(2024, 6, 1)
    gap = (datetime(2024, 6, 12, 10, 20, tzinfo=tz), datetime(2024, 6, 12, 13, 40, tzinfo=tz))
    series = readings(june, tz, gap)
    entries: list[Entry] = []
    balance, cycle = opening_balance, None
    day = None
    for previous, current in itertools.pairwise(series):
        local_day = previous.ts.astimezone(tz).date()
        if local_day != day and local_day.month == june.month:
            day = local_day
            balance, cycle = _post(entries, rate_standing_charge(tariff, day, cycle), balance)
        deduction = rate_interval(previous, current, tariff, cycle)
        balance, cycle = _post(entries, deduction, balance, previous, current)
    return tariff, entries


def _post(
    entries: list[Entry],
    deduction: Deduction,
    balance: Decimal,
    previous: MeterReading | None = None,
    current: MeterReading | None = None,
) -> tuple[Decimal, CycleState]:
    after = balance - deduction.amount
    entries.append(Entry(len(entries) + 1, deduction, previous, current, balance, after))
    return after, deduction.cycle
