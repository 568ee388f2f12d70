"""Invalid tariffs are refused with an error that names the field at fault."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from gateway.core.errors import TariffError
from gateway.core.tariff import DayType, Period, Tariff
from gateway.core.tariff_parse import parse_tariff_version
from tests.core.samples import FLAT_EUR, ONTARIO_TOU_WINTER_2024, SHANGHAI_TIERED_TOU


def refused(data: dict[str, Any]) -> TariffError:
    with pytest.raises(TariffError) as caught:
        parse_tariff_version(data)
    return caught.value


def test_published_tariffs_parse() -> None:
    shanghai = parse_tariff_version(SHANGHAI_TIERED_TOU)
    assert shanghai.bands == ("peak", "valley")
    assert shanghai.tier_bounds_kwh == (Decimal(3120), Decimal(4800))
    assert shanghai.cycle.period is Period.ANNUAL
    ontario = parse_tariff_version(ONTARIO_TOU_WINTER_2024)
    assert ontario.effective_from.isoformat() == "2024-11-01T04:00:00+00:00"  # EDT midnight
    assert ontario.day_type(date(2024, 12, 25)) is DayType.HOLIDAY
    assert ontario.day_type(date(2024, 11, 9)) is DayType.WEEKEND


def test_overlapping_bands_name_the_window() -> None:
    data = copy.deepcopy(ONTARIO_TOU_WINTER_2024)
    data["time_of_use"][0]["windows"][2]["start"] = "10:30"
    error = refused(data)
    assert error.field == "time_of_use[0].windows[2]"
    assert "overlaps" in error.reason


def test_gap_in_the_day_is_named() -> None:
    data = copy.deepcopy(ONTARIO_TOU_WINTER_2024)
    data["time_of_use"][0]["windows"][2]["start"] = "11:30"
    error = refused(data)
    assert error.field == "time_of_use[0].windows"
    assert "gap in the day from 11:00 to 11:30" in error.reason


def test_missing_day_type_is_named() -> None:
    data = copy.deepcopy(ONTARIO_TOU_WINTER_2024)
    data["time_of_use"][1]["day_types"] = ["weekend"]
    error = refused(data)
    assert error.field == "time_of_use"
    assert "holiday" in error.reason


def test_non_increasing_tier_bounds() -> None:
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    data["tiers"][1]["up_to_kwh"] = 3120
    error = refused(data)
    assert error.field == "tiers[1].up_to_kwh"
    assert "must increase" in error.reason


def test_negative_price_names_tier_and_band() -> None:
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    data["tiers"][2]["prices"]["valley"] = "-0.487"
    assert refused(data).field == "tiers[2].prices.valley"


def test_unknown_timezone() -> None:
    data = dict(FLAT_EUR, timezone="Mars/Olympus_Mons")
    error = refused(data)
    assert error.field == "timezone"
    assert "Mars/Olympus_Mons" in error.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "euro"}, "currency"),
        ({"minor_unit": 7}, "minor_unit"),
        ({"price_per_kwh": "abc"}, "price_per_kwh"),
        ({"price_per_kwh": "NaN"}, "price_per_kwh"),
        ({"tax_rate": "-0.2"}, "tax_rate"),
        ({"cycle": {"period": "weekly"}}, "cycle.period"),
        ({"cycle": {"anchor_day": 31}}, "cycle.anchor_day"),
        ({"effective_from": "2024-13-01"}, "effective_from"),
        ({"effective_from": "2024-11-01T00:00:00"}, "effective_from"),
        ({"prices_include_tax": "yes"}, "prices_include_tax"),
        ({"weekend_days": ["funday"]}, "weekend_days[0]"),
        ({"holidays": ["25/12/2024"]}, "holidays[0]"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    assert refused(dict(FLAT_EUR, **change)).field == field


def test_band_without_price_and_price_without_band() -> None:
    data = copy.deepcopy(ONTARIO_TOU_WINTER_2024)
    data["time_of_use"][1]["windows"][0]["band"] = "super_off_peak"
    assert refused(data).field == "time_of_use[1].windows[0].band"
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    for tier in data["tiers"]:
        tier["prices"]["flat"] = "0.5"
    error = refused(data)
    assert (error.field, "flat") == ("time_of_use", error.reason.split("'")[1])


def test_bands_need_a_schedule_and_tiers_the_same_bands() -> None:
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    del data["time_of_use"]
    assert refused(data).field == "time_of_use"
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    del data["tiers"][1]["prices"]["valley"]
    assert refused(data).field == "tiers[1].prices"


def test_last_tier_is_open_ended() -> None:
    data = copy.deepcopy(SHANGHAI_TIERED_TOU)
    data["tiers"][2]["up_to_kwh"] = 9000
    assert refused(data).field == "tiers[2].up_to_kwh"


def test_versions_must_agree_on_currency_and_differ_in_date() -> None:
    first = parse_tariff_version(FLAT_EUR)
    other_currency = parse_tariff_version(dict(FLAT_EUR, version=2, currency="GBP",
                                               effective_from="2021-01-01"))  # fmt: skip
    with pytest.raises(TariffError) as caught:
        Tariff((first, other_currency))
    assert caught.value.field == "versions[1].currency"
    same_day = parse_tariff_version(dict(FLAT_EUR, version=2))
    with pytest.raises(TariffError) as caught:
        Tariff((first, same_day))
    assert caught.value.field == "versions[1].effective_from"


def test_seasons_pick_their_schedule() -> None:
    data = copy.deepcopy(ONTARIO_TOU_WINTER_2024)
    data["seasons"] = [{"name": "winter", "starts": "11-01"}, {"name": "summer", "starts": "05-01"}]
    summer = copy.deepcopy(data["time_of_use"])
    for schedule in data["time_of_use"]:
        schedule["season"] = "winter"
    for schedule in summer:
        schedule["season"] = "summer"
    data["time_of_use"] += summer
    version = parse_tariff_version(data)
    assert version.season(date(2025, 1, 15)) == "winter"
    assert version.season(date(2025, 7, 15)) == "summer"
    del data["time_of_use"][-1]
    assert "season 'summer'" in refused(data).reason
