from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import World

METER: dict[str, Any] = {
    "id": "M1",
    "account_id": "A1",
    "serial": "SDM-1",
    "multiplier": "40",
    "register_modulus_kwh": "100000",
    "max_power_kw": "24",
    "expected_interval_s": 900,
    "installed_at": "2024-06-01T00:00:00Z",
    "install_reading_kwh": "1520.25",
}


def test_operator_registers_and_everyone_reads(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1")
    world.account("A2")
    for role in (Role.BILLING, Role.FIELD_TECH, Role.READ_ONLY):
        problem(client.post("/v1/meters", json=METER, headers=auth(keys[role])), 403)
    problem(client.post("/v1/meters", json=METER), 401)
    created = client.post("/v1/meters", json=METER, headers=auth(keys[Role.OPERATOR]))
    assert created.status_code == 201, created.text
    assert body(created) == METER | {
        "relay": "closed",
        "last_reading_at": "2024-06-01T00:00:00Z",
        "last_reading_kwh": "1520.25",
        "exchanges": [],
        "driver": None,
        "commissioning_status": "not_commissioned",
        "commissioned_at": None,
        "commissioning_report": None,
    }
    other = {"id": "M2", "account_id": "A2", "serial": "SDM-2"}
    assert client.post("/v1/meters", json=other, headers=auth(keys[Role.ADMIN])).status_code == 201
    reader = auth(keys[Role.READ_ONLY])
    assert body(client.get("/v1/meters/M2", headers=reader))["multiplier"] == "1"
    listed = body(client.get("/v1/meters", params={"account_id": "A2"}, headers=reader))
    assert [m["id"] for m in listed["items"]] == ["M2"]
    paged = body(client.get("/v1/meters", params={"limit": 1}, headers=reader))
    assert (paged["items"][0]["id"], paged["next_after"]) == ("M1", "M1")
    problem(client.get("/v1/meters/NOPE", headers=reader), 404)


def test_refusals_name_the_problem(client: TestClient, keys: dict[Role, str], world: World) -> None:
    world.account("A1")
    operator = auth(keys[Role.OPERATOR])
    problem(client.post("/v1/meters", json=METER | {"account_id": "NOPE"}, headers=operator), 404)
    found = problem(
        client.post("/v1/meters", json=METER | {"max_power_kw": "0"}, headers=operator), 422
    )
    assert found["errors"][0]["field"] == "max_power_kw"
    found = problem(
        client.post("/v1/meters", json=METER | {"multiplier": 1.5}, headers=operator), 422
    )
    assert found["errors"][0]["field"] == "multiplier"
    alone = {k: v for k, v in METER.items() if k != "install_reading_kwh"}
    found = problem(client.post("/v1/meters", json=alone, headers=operator), 422)
    assert "together" in found["detail"]
    assert client.post("/v1/meters", json=METER, headers=operator).status_code == 201
    assert (
        "already exists"
        in problem(client.post("/v1/meters", json=METER, headers=operator), 409)["detail"]
    )


def test_field_tech_declares_an_exchange(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1")
    world.meter("M1", "A1")
    swap = {
        "at": "2024-05-31T10:30:00Z",
        "removal_reading_kwh": "1602.10",
        "new_serial": "SDM-77",
        "opening_reading_kwh": "0.00",
    }
    for role in (Role.BILLING, Role.READ_ONLY):
        problem(client.post("/v1/meters/M1/exchange", json=swap, headers=auth(keys[role])), 403)
    done = client.post("/v1/meters/M1/exchange", json=swap, headers=auth(keys[Role.FIELD_TECH]))
    assert done.status_code == 201, done.text
    meter = body(done)
    assert meter["serial"] == "SDM-77"
    assert meter["exchanges"] == [
        {
            "at": "2024-05-31T10:30:00Z",
            "old_serial": "S-M1",
            "removal_reading_kwh": "1602.10",
            "new_serial": "SDM-77",
            "opening_reading_kwh": "0.00",
        }
    ]
    operator = auth(keys[Role.OPERATOR])
    future = swap | {"at": "2024-06-02T00:00:00Z"}
    assert (
        "future"
        in problem(client.post("/v1/meters/M1/exchange", json=future, headers=operator), 422)[
            "detail"
        ]
    )
    naive = swap | {"at": "2024-05-31T10:30:00"}
    found = problem(client.post("/v1/meters/M1/exchange", json=naive, headers=operator), 422)
    assert found["errors"][0]["field"] == "at"
    problem(client.post("/v1/meters/NOPE/exchange", json=swap, headers=operator), 404)


def test_driver_config_and_commissioning_are_recorded(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("ACC-9", opening="5.00")
    driver = {"protocol": "modbus-rtu", "model": "eastron-sdm120", "device": "/dev/ttyUSB0",
              "baud": 2400, "parity": "N", "unit": 3}  # fmt: skip
    payload = {"id": "M-9", "account_id": "ACC-9", "serial": "SDM120-9", "driver": driver}
    created = client.post("/v1/meters", json=payload, headers=auth(keys[Role.OPERATOR]))
    assert created.status_code == 201, created.text
    assert created.json()["driver"]["model"] == "eastron-sdm120"
    assert created.json()["commissioning_status"] == "not_commissioned"
    bad = dict(payload, id="M-10", driver={"protocol": "modbus-tcp", "model": "sdm12O", "unit": 1})
    refused = client.post("/v1/meters", json=bad, headers=auth(keys[Role.OPERATOR]))
    assert refused.status_code == 422
    assert "unknown register map 'sdm12O'" in refused.text
    report = {"passed": False, "report": {"checks": [{"name": "link", "ok": False}]}}
    done = client.post("/v1/meters/M-9/commissioning", json=report,
                       headers=auth(keys[Role.FIELD_TECH]))  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["commissioning_status"] == "failed"
    assert done.json()["commissioning_report"]["checks"][0]["name"] == "link"
    reader = client.post("/v1/meters/M-9/commissioning", json=report,
                         headers=auth(keys[Role.READ_ONLY]))  # fmt: skip
    assert reader.status_code == 403
