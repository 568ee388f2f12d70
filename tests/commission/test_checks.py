"""The pure sanity rules and the model suggestions."""

from __future__ import annotations

from decimal import Decimal

from drivers.models import MODELS
from gateway.commission.checks import (
    Nominal,
    check_bands,
    check_energy_progress,
    check_frequency,
    check_voltage,
)
from gateway.commission.explain import suggest_models

N = Nominal()
D = Decimal


def progress(first: str, second: str, power: str | None = "1000", step: str = "0.01") -> str:
    result = check_energy_progress(
        first_kwh=D(first),
        second_kwh=D(second),
        elapsed_s=D(60),
        power_w=None if power is None else D(power),
        step_kwh=D(step),
        nominal=N,
    )
    return f"{result.status}: {result.explanation}"


def test_voltage_range_and_hints() -> None:
    assert check_voltage("voltage", D("229.8"), N).status == "pass"
    assert check_voltage("voltage", D("196"), N).status == "pass"
    assert check_voltage("voltage", D("190"), N).explanation.startswith("190 V is out of range")
    assert "10 x too big" in check_voltage("voltage", D("2301"), N).explanation
    assert "10 x too small" in check_voltage("voltage", D("23.0"), N).explanation
    assert "word order" in check_voltage("voltage", D("1.2E-38"), N).explanation
    assert check_voltage("voltage", D(0), N).explanation.startswith("no voltage measured")
    us = Nominal(voltage_v=D(120), frequency_hz=D(60))
    assert check_voltage("voltage", D("121"), us).status == "pass"


def test_frequency_range() -> None:
    assert check_frequency(D("49.98"), N).status == "pass"
    assert check_frequency(D("60"), N).status == "fail"
    assert "100 x too big" in check_frequency(D("5000"), N).explanation


def test_energy_progress_rules() -> None:
    assert progress("10.00", "10.02").startswith("pass")
    assert progress("10.00", "9.99").startswith("fail: energy went down by 0.01 kWh")
    assert progress("10.00", "30.00").startswith("fail: energy jumped by 20.00 kWh")
    # 1000 W for 60 s is 0.0167 kWh: less than two 0.01 steps, so not conclusive
    assert progress("10.00", "10.00").startswith("warn: unchanged")
    assert progress("10.00", "10.00", step="0.001").startswith("fail: energy is stuck")
    assert progress("10.00", "10.00", power="0").startswith("pass")
    assert progress("10.00", "10.00", power=None).startswith("pass")


def test_bands_sum_to_total() -> None:
    bands = {"peak": D("1.00"), "flat": D("2.00"), "valley": D("3.01")}
    assert check_bands(total_kwh=D("6.01"), bands_kwh=bands, step_kwh=D("0.01")).status == "pass"
    assert check_bands(total_kwh=D("6.03"), bands_kwh=bands, step_kwh=D("0.01")).status == "pass"
    bad = check_bands(total_kwh=D("9.01"), bands_kwh=bands, step_kwh=D("0.01"))
    assert bad.status == "fail"
    assert "sum to 6.01 kWh but the total reads 9.01 kWh" in bad.explanation


def test_model_suggestions_from_what_answered() -> None:
    sdm630, sdm120 = MODELS["eastron-sdm630"], MODELS["eastron-sdm120"]
    answered = {(4, 0x0000), (4, 0x0006), (4, 0x0048)}
    assert suggest_models(sdm630, answered=answered, refused={(4, 0x0002)})[0] == "eastron-sdm120"
    assert suggest_models(sdm120, answered=answered, refused={(4, 0x0156)})[0] == "eastron-sdm630"
    dtsu = MODELS["chint-dtsu666"]
    guess = suggest_models(dtsu, answered={(3, 0x2006)}, refused={(3, 0x101E)})
    assert guess == ["chint-dtsu666-4000"]
