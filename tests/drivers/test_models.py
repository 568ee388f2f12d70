"""Meter models as data: the built-in registry, YAML user models, the request planner."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import ModelDefinitionError
from drivers.modbus.planner import minimum_requests, plan_reads, rtu_bus_time_s
from drivers.models import MODELS, PREPAID_V1, get_model, load_model_file
from drivers.models.definition import model_from_mapping
from drivers.registers import DataType, MeterModel, RegisterSpec


def test_registry_is_explicit_and_complete() -> None:
    assert set(MODELS) == {
        "eastron-sdm120",
        "eastron-sdm630",
        "chint-ddsu666",
        "chint-dtsu666",
        "chint-dtsu666-4000",
        "abb-b2x",
        "prepaid-v1",
    }
    with pytest.raises(ModelDefinitionError, match="unknown model 'nope'"):
        get_model("nope")


def test_dtsu666_variant_differs_only_in_energy_addresses() -> None:
    usual, variant = MODELS["chint-dtsu666"], MODELS["chint-dtsu666-4000"]
    assert [r.address for r in usual.registers if "energy" in r.role] == [0x101E, 0x1028]
    assert [r.address for r in variant.registers if "energy" in r.role] == [0x401E, 0x4028]


def test_prepaid_v1_map() -> None:
    assert PREPAID_V1.energy_role == "energy_total_kwh"
    balance = PREPAID_V1.balance
    assert balance is not None
    assert (balance.data_type, balance.scale, balance.writable) == (
        DataType.S32,
        Decimal("0.01"),
        True,
    )
    relay = PREPAID_V1.relay
    assert relay is not None
    assert (relay.function_code, relay.address) == (1, 0)
    bands = {r.role for r in PREPAID_V1.band_registers}
    assert bands == {"band:sharp", "band:peak", "band:flat", "band:valley"}


def _yaml_model(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "custom",
        "registers": [
            {"name": "v", "role": "voltage_v", "function_code": 4, "address": 0, "type": "float32"},
            {
                "name": "e",
                "role": "energy_import_kwh",
                "function_code": 4,
                "address": 0x48,
                "type": "u32",
                "scale": 0.01,
                "word_order": "little",
            },
        ],
    }
    data.update(overrides)
    return data


def test_yaml_model_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: custom\nregisters:\n"
        "  - {name: e, role: energy_import_kwh, function_code: 3, address: 0x10, type: u32,"
        " scale: 0.01}\n"
    )
    model = load_model_file(path)
    assert model.registers[0].address == 0x10
    assert model.registers[0].scale == Decimal("0.01")


def test_yaml_float_scale_becomes_exact_decimal() -> None:
    model = model_from_mapping(_yaml_model())
    assert model.registers[1].scale == Decimal("0.01")
    assert model.registers[1].word_order == "little"


@pytest.mark.parametrize(
    ("mutate", "key", "reason"),
    [
        (lambda d: d["registers"][1].update(type="int7"), "registers[1].type", "must be one of"),
        (lambda d: d["registers"][0].update(role="volts"), "registers[0].role", "unknown role"),
        (
            lambda d: d["registers"][0].update(function_code=1),
            "registers[0].function_code",
            "float32 must be read with function code [3, 4]",
        ),
        (lambda d: d["registers"][1].update(address=1), "registers[1].address", "overlaps v"),
        (lambda d: d["registers"][0].update(colour="red"), "registers[0].colour", "unknown key"),
        (lambda d: d.update(energy_role="energy_total_kwh"), "energy_role", "no register"),
        (lambda d: d.update(max_registers_per_request=200), "max_registers_per_request", "125"),
        (lambda d: d["registers"][1].update(scale="abc"), "registers[1].scale", "number"),
    ],
)
def test_yaml_errors_name_the_key_path(mutate: Any, key: str, reason: str) -> None:
    data = _yaml_model()
    mutate(data)
    with pytest.raises(ModelDefinitionError) as caught:
        model_from_mapping(data)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_bad_yaml_file_fails_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ModelDefinitionError, match="not valid YAML"):
        load_model_file(path)


def _model(addresses: list[int], *, max_per_request: int = 125, gap: int = 0) -> MeterModel:
    return MeterModel(
        name="t",
        registers=tuple(
            RegisterSpec(
                name=f"r{a}",
                role="energy_import_kwh" if i == 0 else f"band:b{i}",
                function_code=3,
                address=a,
                data_type=DataType.U32,
            )
            for i, a in enumerate(addresses)
        ),
        max_registers_per_request=max_per_request,
        max_gap_registers=gap,
    )


def test_planner_merges_contiguous_registers() -> None:
    plan = plan_reads(_model([0, 2, 4, 10]))
    assert [(r.address, r.count) for r in plan] == [(0, 6), (10, 2)]


def test_planner_reads_across_small_gaps_when_allowed() -> None:
    plan = plan_reads(_model([0, 2, 4, 10], gap=4))
    assert [(r.address, r.count) for r in plan] == [(0, 12)]


def test_planner_respects_the_models_request_limit() -> None:
    plan = plan_reads(_model([0, 2, 4, 6], max_per_request=4))
    assert [(r.address, r.count) for r in plan] == [(0, 4), (4, 4)]


def test_planner_separates_function_codes() -> None:
    plan = plan_reads(PREPAID_V1)
    assert sorted(r.function_code for r in plan) == [1, 3]


@pytest.mark.parametrize("model", MODELS.values(), ids=lambda m: m.name)
def test_every_register_is_read_exactly_once(model: MeterModel) -> None:
    plan = plan_reads(model)
    read = [spec.name for request in plan for spec in request.specs]
    assert sorted(read) == sorted(spec.name for spec in model.registers)
    for request in plan:
        assert request.count <= model.max_registers_per_request
        for spec in request.specs:
            assert request.address <= spec.address
            assert spec.end <= request.address + request.count
    assert minimum_requests(model) <= len(plan)


def test_rtu_bus_time_matches_the_domain_figures() -> None:
    # DOMAIN.md: at 9600 baud, a 2-register read is about 25 ms, a 14-register one about 50 ms
    two = plan_reads(_model([0]))
    assert rtu_bus_time_s(two, baudrate=9600) == pytest.approx(0.025, abs=0.002)
    fourteen = plan_reads(_model([0, 2, 4, 6, 8, 10, 12]))
    assert rtu_bus_time_s(fourteen, baudrate=9600) == pytest.approx(0.050, abs=0.003)
