from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from api.auth import Role
from gateway.storage.schema import account_controls, meter_commands
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import World

OPEN = {"action": "relay_open", "reason": "customer moving out", "expires_in_s": 600}


def test_operator_queues_a_relay_command(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1")
    world.meter("M1", "A1")
    for role in (Role.BILLING, Role.FIELD_TECH, Role.READ_ONLY):
        problem(client.post("/v1/meters/M1/commands", json=OPEN, headers=auth(keys[role])), 403)
    queued = client.post("/v1/meters/M1/commands", json=OPEN, headers=auth(keys[Role.OPERATOR]))
    assert queued.status_code == 201, queued.text
    command = body(queued)
    assert {
        k: command[k]
        for k in (
            "action",
            "status",
            "manual",
            "requested_by",
            "created_at",
            "expires_at",
            "confirmed_at",
        )
    } == {
        "action": "relay_open",
        "status": "pending",
        "manual": True,
        "requested_by": "operator",
        "created_at": "2024-06-01T00:00:00Z",
        "expires_at": "2024-06-01T00:10:00Z",
        "confirmed_at": None,
    }
    busy = client.post(
        "/v1/meters/M1/commands",
        json=OPEN | {"action": "relay_close"},
        headers=auth(keys[Role.OPERATOR]),
    )
    assert "awaiting confirmation" in problem(busy, 409)["detail"]
    with world.engine.begin() as connection:
        connection.execute(update(meter_commands).values(status="confirmed"))
    world.clock.advance(timedelta(minutes=1))
    close = client.post(
        "/v1/meters/M1/commands",
        json=OPEN | {"action": "relay_close"},
        headers=auth(keys[Role.ADMIN]),
    )
    assert close.status_code == 201
    reader = auth(keys[Role.READ_ONLY])
    listed = body(client.get("/v1/meters/M1/commands", headers=reader))
    assert [c["action"] for c in listed["items"]] == ["relay_open", "relay_close"]
    first = body(client.get("/v1/meters/M1/commands", params={"limit": 1}, headers=reader))
    rest = body(
        client.get("/v1/meters/M1/commands", params={"after": first["next_after"]}, headers=reader)
    )
    assert [c["id"] for c in rest["items"]] == [body(close)["id"]]


def test_refusals(client: TestClient, keys: dict[Role, str], world: World) -> None:
    world.account("A1")
    world.meter("M1", "A1")
    operator = auth(keys[Role.OPERATOR])
    for change, field in (
        ({"action": "set_balance"}, "action"),
        ({"reason": ""}, "reason"),
        ({"expires_in_s": 5}, "expires_in_s"),
    ):
        found = problem(
            client.post("/v1/meters/M1/commands", json=OPEN | change, headers=operator), 422
        )
        assert found["errors"][0]["field"] == field
    problem(client.post("/v1/meters/NOPE/commands", json=OPEN, headers=operator), 404)
    problem(client.get("/v1/meters/NOPE/commands", headers=operator), 404)
    with world.engine.begin() as connection:
        connection.execute(
            insert(account_controls).values(
                account_id="A1",
                protected=True,
                emergency_credit=Decimal(0),
                debt=Decimal(0),
                updated_at=world.clock(),
            )
        )
    protected = client.post("/v1/meters/M1/commands", json=OPEN, headers=operator)
    assert "protected" in problem(protected, 409)["detail"]
    closing = client.post(
        "/v1/meters/M1/commands", json=OPEN | {"action": "relay_close"}, headers=operator
    )
    assert closing.status_code == 201
