"""Fault specs and scenario files: parsed exactly, refused with the key that is wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simulators import faults as f
from simulators.scenario import (
    FaultSpec,
    ScenarioError,
    load_scenario,
    parse_fault,
    scenario_from_mapping,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("offline", FaultSpec(f.Offline(), text="offline")),
        ("offline@60s+30s", FaultSpec(f.Offline(), timedelta(seconds=60), timedelta(seconds=30))),
        ("exception:2", FaultSpec(f.ExceptionReply(2))),
        ("exception", FaultSpec(f.ExceptionReply(4))),
        ("slow:1.5@2m", FaultSpec(f.SlowAnswers(1.5), timedelta(minutes=2))),
        ("spike:100+1h", FaultSpec(f.Spike(Decimal(100)), timedelta(0), timedelta(hours=1))),
        ("exchange:7:12.5@1d", FaultSpec(f.MeterExchange(7, Decimal("12.5")), timedelta(days=1))),
        ("crc", FaultSpec(f.CrcErrors())),
        ("relay-refuses", FaultSpec(f.RelayRefuses())),
    ],
)
def test_fault_specs(text: str, expected: FaultSpec) -> None:
    parsed = parse_fault(text)
    assert (parsed.fault, parsed.start, parsed.duration) == (
        expected.fault,
        expected.start,
        expected.duration,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ofline", "unknown fault kind 'ofline'"),
        ("slow", "fault 'slow' takes 1..1 argument(s), got 0"),
        ("offline@soon", "bad duration 'soon'"),
        ("counter-reset+5m", "one-shot event"),
        ("spike:lots", "'lots' is not a number"),
    ],
)
def test_bad_fault_specs(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_fault(text)


def test_schedule_on_the_meter_clock() -> None:
    script = f.FaultScript()
    parse_fault("offline@1h+30m").schedule(script, T0)
    assert script.active(T0 + timedelta(minutes=59), f.Offline) is None
    assert script.active(T0 + timedelta(minutes=61), f.Offline) is not None
    assert script.active(T0 + timedelta(minutes=91), f.Offline) is None


def test_a_full_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        """
name: estate
start: 2026-03-01T00:00:00+08:00
acceleration: 60
groups:
  - name: flats
    model: prepaid-v1
    count: 450
    units_per_socket: 200
    balance: 50.00
    faults:
      - {fault: "offline@2h+30m", meters: ["1-20", 42]}
  - name: shops
    model: eastron-sdm630
    count: 10
    profile: {constant_w: 2500}
""",
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert scenario.meter_count == 460
    flats = scenario.groups[0]
    assert flats.faults[0].indexes(flats.count) == set(range(20)) | {41}
    assert scenario.groups[1].profile != "residential"


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        ({}, "groups", "Field required"),
        ({"groups": [{"count": 0}]}, "groups[0].count", "greater than or equal to 1"),
        ({"groups": [{"count": 1, "model": "sdm120"}]}, "groups[0].model", "unknown model"),
        ({"groups": [{"count": 1, "colour": "red"}]}, "groups[0].colour", "unknown key"),
        (
            {"groups": [{"count": 1}, {"count": 2, "faults": [{"fault": "ofline"}]}]},
            "groups[1].faults[0].fault",
            "unknown fault kind 'ofline'",
        ),
        ({"groups": [{"count": 1, "profile": "flat"}]}, "groups[0].profile", "constant_w"),
        ({"groups": [{"count": 1, "transport": "zigbee"}]}, "groups[0].transport", "must be one"),
        ({"start": "2026-03-01T00:00:00", "groups": [{"count": 1}]}, "start", "UTC offset"),
        ({"acceleration": 0, "groups": [{"count": 1}]}, "acceleration", "greater than 0"),
    ],
)
def test_errors_name_the_key(data: object, key: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping(data)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("groups: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)
