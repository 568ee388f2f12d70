from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.auth import Role
from api.main import create_app
from gateway.core.alerts import AlertLevel, LevelKind
from gateway.ledger.controls import ControlPolicy
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import World


@pytest.fixture
def controlled(engine: Engine, world: World) -> Iterator[TestClient]:
    money_only = (AlertLevel(LevelKind.MONEY, Decimal(5), Decimal(2)),)
    policy = ControlPolicy(alert_levels=money_only, friendly=None)
    app = create_app(engine, clock=world.clock, policy=policy)
    with TestClient(app) as test_client:
        yield test_client


def _low_balance(client: TestClient, world: World, key: str, account_id: str) -> None:
    """Charge the account 10 kWh (2.73 EUR) from 6.00: below the 5.00 warning level."""
    world.account(account_id, opening="6.00")
    world.meter(f"M-{account_id}", account_id)
    batch = {
        "readings": [
            {"meter_id": f"M-{account_id}", "ts": f"2024-06-01T0{h}:00:00Z", "energy_kwh": kwh}
            for h, kwh in ((1, "0"), (2, "10"))
        ]
    }
    assert client.post("/v1/readings", json=batch, headers=auth(key)).status_code == 200
    world.clock.advance(timedelta(minutes=1))


def test_list_filter_and_acknowledge(
    controlled: TestClient, keys: dict[Role, str], world: World
) -> None:
    _low_balance(controlled, world, keys[Role.BILLING], "A1")
    _low_balance(controlled, world, keys[Role.BILLING], "A2")
    reader = auth(keys[Role.READ_ONLY])
    problem(controlled.get("/v1/alerts"), 401)
    everything = body(controlled.get("/v1/alerts", headers=reader))["items"]
    assert [(a["account_id"], a["kind"]) for a in everything] == [
        ("A1", "low_balance"),
        ("A2", "low_balance"),
    ]
    assert (everything[0]["balance"], everything[0]["level"]) == ("3.27", "money:5")
    first = body(controlled.get("/v1/alerts", params={"limit": 1}, headers=reader))
    assert first["next_after"] == everything[0]["id"]
    rest = body(controlled.get("/v1/alerts", params={"after": first["next_after"]}, headers=reader))
    assert [a["id"] for a in rest["items"]] == [everything[1]["id"]]
    only_a2 = body(controlled.get("/v1/alerts", params={"account_id": "A2"}, headers=reader))
    assert [a["account_id"] for a in only_a2["items"]] == ["A2"]
    none = body(controlled.get("/v1/alerts", params={"kind": "tamper"}, headers=reader))
    assert none["items"] == []
    bad_kind = problem(controlled.get("/v1/alerts", params={"kind": "boom"}, headers=reader), 422)
    assert bad_kind["errors"][0]["field"] == "query.kind"

    url = f"/v1/alerts/{everything[0]['id']}/acknowledge"
    problem(controlled.post(url, headers=auth(keys[Role.BILLING])), 403)
    acknowledged = controlled.post(url, headers=auth(keys[Role.OPERATOR]))
    assert acknowledged.status_code == 200, acknowledged.text
    found = body(acknowledged)
    assert (found["acknowledged_at"], found["acknowledged_by"]) == (
        "2024-06-01T00:02:00Z",
        "operator",
    )
    world.clock.advance(timedelta(hours=1))
    again = body(controlled.post(url, headers=auth(keys[Role.ADMIN])))
    assert (again["acknowledged_at"], again["acknowledged_by"]) == (
        "2024-06-01T00:02:00Z",
        "operator",
    )
    open_ = body(controlled.get("/v1/alerts", params={"unacknowledged": "true"}, headers=reader))
    assert [a["account_id"] for a in open_["items"]] == ["A2"]
    problem(
        controlled.post(f"/v1/alerts/{'0' * 32}/acknowledge", headers=auth(keys[Role.OPERATOR])),
        404,
    )
