"""The contract without a broker: decoding, limits, schemas, topics, the simulator's maths."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.mqtt import Command, ReadingDecoder, ReadingLimits, TasmotaDevice, Topics
from drivers.mqtt.schemas import render
from simulators.mqtt_meter import MeterState

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def decoder(limits: ReadingLimits | None = None) -> ReadingDecoder:
    return ReadingDecoder(
        topics=Topics(),
        limits=limits or ReadingLimits(),
        tasmota_devices={"plug": TasmotaDevice("M9", ZoneInfo("Europe/Berlin"))},
    )


def test_committed_schema_files_equal_the_generated_ones() -> None:
    generated = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert committed == generated, "run: .venv/bin/python -m drivers.mqtt.schemas docs/schemas"


@given(st.decimals(min_value=0, max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False))
def test_energy_is_decoded_exactly_from_json_number_text(energy: Decimal) -> None:
    text = format(energy, "f")
    payload = f'{{"ts": "2024-05-01T12:00:00Z", "energy_kwh": {text}}}'.encode()
    result = decoder().decode("meters/M1/reading", payload, NOW)
    assert result.rejections == ()
    assert result.readings[0].energy_kwh == Decimal(text)
    assert str(result.readings[0].energy_kwh) == str(Decimal(text))


def test_limits_are_configurable() -> None:
    strict = decoder(ReadingLimits(max_energy_kwh=Decimal(100), max_future_skew_s=0))
    payload = b'{"ts": "2024-05-01T12:00:01Z", "energy_kwh": 1}'
    (rejection,) = strict.decode("meters/M1/reading", payload, NOW).rejections
    assert rejection.reason == "ts: 1 s in the future (more than 0 s)"
    payload = b'{"ts": "2024-05-01T12:00:00Z", "energy_kwh": 100.001}'
    (rejection,) = strict.decode("meters/M1/reading", payload, NOW).rejections
    assert rejection.reason == "energy_kwh: must be <= 100"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2024-05-01T20:00:00+08:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01t12:00:00z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123456789Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("1714564800", None),  # a string of digits is not unix seconds
        ("2024-05-01", None),
        ("2024-02-30T00:00:00Z", None),
    ],
)
def test_rfc3339_timestamps(stamp: str, expected: datetime | None) -> None:
    payload = json.dumps({"ts": stamp, "energy_kwh": 1}).encode()
    result = decoder().decode("meters/M1/reading", payload, NOW)
    if expected is None:
        assert result.rejections[0].reason.startswith("ts:")
    else:
        assert result.readings[0].ts == expected


def test_tasmota_time_in_a_dst_gap_or_overlap_is_refused() -> None:
    for local in ("2024-03-31T02:30:00", "2024-10-27T02:30:00"):
        payload = json.dumps({"Time": local, "ENERGY": {"Total": 1}}).encode()
        (rejection,) = decoder().decode("tele/plug/SENSOR", payload, NOW).rejections
        assert rejection.reason.startswith("Time:")
        assert "DST" in rejection.reason


def test_topics_route_and_prefix() -> None:
    topics = Topics("site1/")
    assert topics.meter_reading("M1") == "site1/meters/M1/reading"
    assert topics.deadletter == "site1/gateway/deadletter"
    assert topics.reading_filters("g")[0] == "$share/g/site1/meters/+/reading"
    assert topics.route("site1/meters/M1/command/ack") is not None
    assert topics.route("meters/M1/reading") is None
    with pytest.raises(ValueError, match="prefix"):
        Topics("site1")


def test_command_is_validated_against_the_wire_contract() -> None:
    expires = NOW + timedelta(minutes=1)
    command = Command("c1", "M1", "set_balance", Decimal("12.50"), expires)
    assert json.loads(command.to_bytes())["amount"] == "12.50"
    with pytest.raises(ValueError, match="amount"):
        Command("c2", "M1", "set_balance", None, expires)
    with pytest.raises(ValueError, match="amount"):
        Command("c3", "M1", "relay_open", Decimal(1), expires)


def test_simulated_meter_integrates_power_exactly() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    meter = MeterState(meter_id="M1", power_w=Decimal(1500), started_at=start)
    assert meter.energy_kwh_at(start + timedelta(hours=2)) == Decimal("3.000")
    assert meter.energy_kwh_at(start + timedelta(seconds=1)) == Decimal("0.000")
    assert meter.energy_kwh_at(start + timedelta(seconds=3)) == Decimal("0.001")
    ack = meter.execute(
        json.dumps(
            {"id": "x", "action": "relay_open", "expires_at": "2024-01-01T03:00:00Z"}
        ).encode(),
        start + timedelta(hours=2),
    )
    assert ack == {"id": "x", "ok": True, "relay": "open"}
    assert meter.energy_kwh_at(start + timedelta(hours=5)) == Decimal("3.000")
