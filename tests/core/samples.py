"""Published tariffs used by the tests, as plain data, with their sources."""

from __future__ import annotations

from typing import Any

from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version

# Ontario Energy Board, Regulated Price Plan, news release of 2024-10-18 ("Ontario Energy
# Board announces changes to electricity prices for households, small businesses and farms"),
# Table 1 - Winter TOU prices effective November 1, 2024: off-peak 7.6, mid-peak 12.2,
# on-peak 15.8 cents/kWh. Off-peak weekdays 7 p.m.-7 a.m. and all day on weekends and
# holidays; mid-peak weekdays 11 a.m.-5 p.m.; on-peak weekdays 7-11 a.m. and 5-7 p.m.
# Holidays between November 2024 and April 2025 as listed by Ontario distributors for RPP.
ONTARIO_TOU_WINTER_2024: dict[str, Any] = {
    "tariff_id": "on-rpp-tou",
    "name": "Ontario RPP Time-of-Use, winter 2024-25",
    "version": 1,
    "effective_from": "2024-11-01",
    "timezone": "America/Toronto",
    "currency": "CAD",
    "prices_include_tax": False,
    "tiers": [{"prices": {"off_peak": "0.076", "mid_peak": "0.122", "on_peak": "0.158"}}],
    "holidays": ["2024-12-25", "2024-12-26", "2025-01-01", "2025-02-17", "2025-04-18"],
    "time_of_use": [
        {
            "day_types": ["weekday"],
            "windows": [
                {"band": "off_peak", "start": "19:00", "end": "07:00"},
                {"band": "on_peak", "start": "07:00", "end": "11:00"},
                {"band": "mid_peak", "start": "11:00", "end": "17:00"},
                {"band": "on_peak", "start": "17:00", "end": "19:00"},
            ],
        },
        {
            "day_types": ["weekend", "holiday"],
            "windows": [{"band": "off_peak", "start": "00:00", "end": "00:00"}],
        },
    ],
}

# Same release, Table 2 - Winter Tiered prices effective November 1, 2024: residential
# 9.3 cents/kWh for the first 1,000 kWh a month, 11.0 cents/kWh above.
ONTARIO_TIERED_WINTER_2024: dict[str, Any] = {
    "tariff_id": "on-rpp-tiered",
    "name": "Ontario RPP Tiered, residential, winter 2024-25",
    "version": 1,
    "effective_from": "2024-11-01",
    "timezone": "America/Toronto",
    "currency": "CAD",
    "prices_include_tax": False,
    "cycle": {"period": "monthly", "anchor_day": 1},
    "tiers": [{"up_to_kwh": 1000, "price_per_kwh": "0.093"}, {"price_per_kwh": "0.110"}],
}

# Shanghai residential tiered tariff with optional peak/valley, annual cycle (Shanghai
# Municipal Development and Reform Commission, 沪发改价督〔2012〕6号, in force 2012-07-01):
# tier 1 up to 3,120 kWh a year: peak 0.617, valley 0.307 CNY/kWh; tier 2 up to 4,800 kWh:
# peak 0.677, valley 0.337; tier 3 above: peak 0.977, valley 0.487. Peak 06:00-22:00,
# valley 22:00-06:00. Prices include VAT (13 % used here to show the tax split).
SHANGHAI_TIERED_TOU: dict[str, Any] = {
    "tariff_id": "sh-residential-tou",
    "name": "Shanghai residential, tiered with peak/valley",
    "version": 1,
    "effective_from": "2012-07-01",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "prices_include_tax": True,
    "tax_rate": "0.13",
    "cycle": {"period": "annual", "anchor_month": 1, "anchor_day": 1},
    "tiers": [
        {"up_to_kwh": 3120, "prices": {"peak": "0.617", "valley": "0.307"}},
        {"up_to_kwh": 4800, "prices": {"peak": "0.677", "valley": "0.337"}},
        {"prices": {"peak": "0.977", "valley": "0.487"}},
    ],
    "time_of_use": [
        {
            "windows": [
                {"band": "peak", "start": "06:00", "end": "22:00"},
                {"band": "valley", "start": "22:00", "end": "06:00"},
            ]
        }
    ],
}

FLAT_EUR: dict[str, Any] = {
    "tariff_id": "flat",
    "version": 1,
    "effective_from": "2020-01-01",
    "timezone": "Europe/London",
    "currency": "EUR",
    "price_per_kwh": "0.2734",
}


def tariff(*versions: dict[str, Any]) -> Tariff:
    return Tariff(tuple(parse_tariff_version(v) for v in versions))
