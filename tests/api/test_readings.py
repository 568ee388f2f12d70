from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import World


def _reading(ts: str, kwh: str, meter_id: str = "M1") -> dict[str, str]:
    return {"meter_id": meter_id, "ts": f"2024-06-01T{ts}Z", "energy_kwh": kwh}


BATCH = {
    "readings": [
        _reading("01:00:00", "10"),
        _reading("00:30:00", "5"),
        _reading("00:45:00", "7", meter_id="GHOST"),
    ]
}


def _setup(world: World) -> None:
    world.account("A1", opening="100.00")
    world.meter("M1", "A1", installed_at=world.clock(), install_reading_kwh=Decimal(0))


def test_a_batch_is_charged_exactly_once(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    _setup(world)
    response = client.post("/v1/readings", json=BATCH, headers=auth(keys[Role.BILLING]))
    assert response.status_code == 200, response.text
    results = body(response)["results"]
    assert [(r["ts"], r["outcome"], r["duplicate"]) for r in results] == [
        ("2024-06-01T01:00:00Z", "accepted", False),
        ("2024-06-01T00:30:00Z", "accepted", False),
        ("2024-06-01T00:45:00Z", "rejected", False),
    ]
    # 5 kWh x 0.2734 each, charged in meter-time order; the rounding remainder carries over
    assert [r["charged"] for r in results] == ["1.36", "1.37", None]
    assert "unknown meter" in results[2]["reason"]
    retry = body(client.post("/v1/readings", json=BATCH, headers=auth(keys[Role.OPERATOR])))
    again = retry["results"]
    assert [r["duplicate"] for r in again[:2]] == [True, True]
    assert [r["entry_id"] for r in again[:2]] == [r["entry_id"] for r in results[:2]]
    assert world.balance("A1") == Decimal("97.27")
    assert len(world.entries("A1")) == 2
    changed = {"readings": [_reading("01:00:00", "11")]}
    conflict = body(client.post("/v1/readings", json=changed, headers=auth(keys[Role.BILLING])))
    assert conflict["results"][0]["outcome"] == "quarantined"
    assert len(world.entries("A1")) == 2


def test_ingestion_roles_and_validation(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    _setup(world)
    for role in (Role.READ_ONLY, Role.FIELD_TECH):
        problem(client.post("/v1/readings", json=BATCH, headers=auth(keys[role])), 403)
    problem(client.post("/v1/readings", json=BATCH), 401)
    billing = auth(keys[Role.BILLING])
    cases = [
        (
            {"readings": [_reading("01:00:00", "10") | {"ts": "2024-06-01T01:00:00"}]},
            "readings.0.ts",
        ),
        ({"readings": [_reading("01:00:00", "-1")]}, "readings.0.energy_kwh"),
        ({"readings": [_reading("01:00:00", 10.5)]}, "readings.0.energy_kwh"),  # type: ignore[arg-type]
        ({"readings": []}, "readings"),
        ({"readings": [_reading("01:00:00", "1") | {"relay": "ajar"}]}, "readings.0.relay"),
    ]
    for payload, field in cases:
        found = problem(client.post("/v1/readings", json=payload, headers=billing), 422)
        assert found["errors"][0]["field"] == field
    assert world.readings("M1") == []


def test_a_meters_readings_by_time_and_page(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    _setup(world)
    batch = {"readings": [_reading(f"0{h}:00:00", str(h)) for h in range(1, 6)]}
    client.post("/v1/readings", json=batch, headers=auth(keys[Role.BILLING]))
    reader = auth(keys[Role.READ_ONLY])
    first = body(client.get("/v1/meters/M1/readings", params={"limit": 2}, headers=reader))
    assert [r["energy_kwh"] for r in first["items"]] == ["1", "2"]
    assert first["items"][0]["charged"] == "0.27"
    assert first["next_after"] == "2024-06-01T02:00:00Z"
    second = client.get(
        f"/v1/meters/M1/readings?limit=2&after={first['next_after']}", headers=reader
    )
    assert [r["energy_kwh"] for r in body(second)["items"]] == ["3", "4"]
    window = {"since": "2024-06-01T04:00:00+01:00", "until": "2024-06-01T05:00:00Z"}
    within = body(client.get("/v1/meters/M1/readings", params=window, headers=reader))
    assert [r["ts"] for r in within["items"]] == ["2024-06-01T03:00:00Z", "2024-06-01T04:00:00Z"]
    assert within["next_after"] is None
    naive = client.get(
        "/v1/meters/M1/readings", params={"since": "2024-06-01T00:00:00"}, headers=reader
    )
    assert problem(naive, 422)["errors"][0]["field"] == "query.since"
    problem(client.get("/v1/meters/NOPE/readings", headers=reader), 404)
