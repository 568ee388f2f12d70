"""MeterSample refuses what the ledger must never see; the planner covers any map."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import MeterSample
from drivers.modbus.planner import plan_reads
from drivers.registers import DataType, MeterModel, RegisterSpec


def test_sample_needs_aware_utc_and_decimals() -> None:
    with pytest.raises(ValueError, match="aware UTC"):
        MeterSample(meter_id="m", read_at=datetime(2026, 1, 1), energy_kwh=Decimal(1), source="s")
    with pytest.raises(TypeError, match="Decimal"):
        MeterSample(
            meter_id="m",
            read_at=datetime(2026, 1, 1, tzinfo=UTC),
            energy_kwh=1.5,  # type: ignore[arg-type]
            source="s",
        )


@given(
    starts=st.sets(st.integers(min_value=0, max_value=400), min_size=1, max_size=40),
    types=st.lists(st.sampled_from([DataType.U16, DataType.U32, DataType.U64]), min_size=40),
    limit=st.integers(min_value=4, max_value=125),
    gap=st.integers(min_value=0, max_value=10),
)
def test_plan_reads_every_register_once_within_limits(
    starts: set[int], types: list[DataType], limit: int, gap: int
) -> None:
    specs: list[RegisterSpec] = []
    end = -1
    for index, address in enumerate(sorted(starts)):
        if address <= end:
            continue  # keep registers from overlapping
        spec = RegisterSpec(
            name=f"r{index}",
            role="energy_import_kwh" if not specs else f"band:b{index}",
            function_code=3,
            address=address,
            data_type=types[index],
        )
        specs.append(spec)
        end = spec.end - 1
    model = MeterModel(
        name="p", registers=tuple(specs), max_registers_per_request=limit, max_gap_registers=gap
    )
    plan = plan_reads(model)
    covered = sorted(spec.name for request in plan for spec in request.specs)
    assert covered == sorted(spec.name for spec in specs)
    for request in plan:
        assert request.count <= limit
        assert all(request.address <= s.address for s in request.specs)
        assert all(s.end <= request.address + request.count for s in request.specs)
        ordered = sorted(request.specs, key=lambda s: s.address)
        holes = [b.address - a.end for a, b in itertools.pairwise(ordered)]
        assert all(hole <= gap for hole in holes)
