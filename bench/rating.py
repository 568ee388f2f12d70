"""Ratings per second over a year of 15-minute readings, one core (not a test).

    .venv/bin/python -m bench.rating [--repeat 3]

Each rating threads the cycle state through, as the ledger does. Figures go in docs/bench.md.
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.core.deduction import MeterReading
from gateway.core.rating import rate_interval
from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version

BASE: dict[str, Any] = {
    "tariff_id": "bench", "version": 1, "effective_from": "2024-01-01",
    "timezone": "Asia/Shanghai", "currency": "CNY",
}  # fmt: skip
PLANS: dict[str, dict[str, Any]] = {
    "flat": {**BASE, "price_per_kwh": "0.5283"},
    "tiered": {
        **BASE,
        "cycle": {"period": "monthly"},
        "tiers": [
            {"up_to_kwh": 200, "price_per_kwh": "0.5283"},
            {"up_to_kwh": 400, "price_per_kwh": "0.5783"},
            {"price_per_kwh": "0.8283"},
        ],
    },
    "tiered+tou": {
        **BASE,
        "cycle": {"period": "monthly"},
        "tiers": [
            {"up_to_kwh": 200, "prices": {"peak": "0.6183", "flat": "0.5283", "valley": "0.3383"}},
            {"up_to_kwh": 400, "prices": {"peak": "0.6683", "flat": "0.5783", "valley": "0.3883"}},
            {"prices": {"peak": "0.9183", "flat": "0.8283", "valley": "0.6383"}},
        ],
        "time_of_use": [
            {
                "windows": [
                    {"band": "valley", "start": "23:00", "end": "07:00"},
                    {"band": "flat", "start": "07:00", "end": "08:00"},
                    {"band": "peak", "start": "08:00", "end": "11:00"},
                    {"band": "flat", "start": "11:00", "end": "18:00"},
                    {"band": "peak", "start": "18:00", "end": "23:00"},
                ]
            }
        ],
    },
}


def year_of_readings() -> list[MeterReading]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    kwh = Decimal("0.125")  # 500 W
    return [MeterReading(start + i * step, kwh * i) for i in range(366 * 96 + 1)]


def run(plan: Tariff, readings: list[MeterReading]) -> tuple[float, Decimal]:
    cycle = None
    charged = Decimal(0)
    began = time.perf_counter()
    for previous, current in itertools.pairwise(readings):
        deduction = rate_interval(previous, current, plan, cycle)
        cycle = deduction.cycle
        charged += deduction.amount
    return time.perf_counter() - began, charged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    readings = year_of_readings()
    print(f"{len(readings) - 1} ratings per run (a leap year of 15-minute readings), best of"
          f" {args.repeat}")  # fmt: skip
    print(f"{'tariff':<12} {'ratings/s':>10} {'us/rating':>10} {'charged':>12}")
    for name, data in PLANS.items():
        plan = Tariff((parse_tariff_version(data),))
        best, charged = min(run(plan, readings) for _ in range(args.repeat))
        rate = (len(readings) - 1) / best
        print(f"{name:<12} {rate:>10,.0f} {1e6 / rate:>10.1f} {charged:>12}")


if __name__ == "__main__":
    main()
