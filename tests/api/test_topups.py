from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.auth import Role
from api.main import create_app
from gateway.ledger.controls import ControlPolicy
from gateway.storage.schema import meter_commands, meters
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import World


def _top_up(
    client: TestClient,
    key: str,
    amount: object,
    idempotency_key: str | None,
    account_id: str = "A1",
) -> object:
    headers = auth(key) | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
    return client.post(
        f"/v1/accounts/{account_id}/top-ups", json={"amount": amount}, headers=headers
    )


def test_a_retry_returns_the_same_entry_and_credits_once(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1", opening="1.00")
    first = client.post(
        "/v1/accounts/A1/top-ups",
        json={"amount": "20.00"},
        headers=auth(keys[Role.BILLING]) | {"Idempotency-Key": "pay-1"},
    )
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    posted = body(first)
    assert posted | {"entry_id": None} == {
        "entry_id": None,
        "account_id": "A1",
        "sequence": 1,
        "amount": "20.00",
        "balance_after": "21.00",
        "reference": "pay-1",
        "replayed": False,
    }
    retry = client.post(
        "/v1/accounts/A1/top-ups",
        json={"amount": "20.00"},
        headers=auth(keys[Role.ADMIN]) | {"Idempotency-Key": "pay-1"},
    )
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert body(retry) == posted | {"replayed": True}
    assert world.balance("A1") == 21
    assert len(world.entries("A1")) == 1


def test_the_same_key_for_another_amount_is_a_conflict(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1")
    headers = auth(keys[Role.BILLING]) | {"Idempotency-Key": "pay-1"}
    client.post("/v1/accounts/A1/top-ups", json={"amount": "20.00"}, headers=headers)
    clash = client.post("/v1/accounts/A1/top-ups", json={"amount": "25.00"}, headers=headers)
    detail = problem(clash, 409)["detail"]
    assert "20.00" in detail
    assert "25.00" in detail
    assert world.balance("A1") == 120


def test_top_up_validation_and_roles(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1")
    headers = auth(keys[Role.BILLING]) | {"Idempotency-Key": "k"}
    missing = problem(
        client.post(
            "/v1/accounts/A1/top-ups", json={"amount": "1.00"}, headers=auth(keys[Role.BILLING])
        ),
        422,
    )
    assert missing["errors"][0]["field"] == "header.Idempotency-Key"
    for amount, field in ((1.5, "amount"), ("-1.00", "amount"), ("0", "amount")):
        found = problem(
            client.post("/v1/accounts/A1/top-ups", json={"amount": amount}, headers=headers), 422
        )
        assert found["errors"][0]["field"] == field
    assert (
        "minor units"
        in problem(
            client.post("/v1/accounts/A1/top-ups", json={"amount": "1.001"}, headers=headers), 422
        )["detail"]
    )
    problem(client.post("/v1/accounts/NOPE/top-ups", json={"amount": "1.00"}, headers=headers), 404)
    for role in (Role.OPERATOR, Role.READ_ONLY, Role.FIELD_TECH):
        problem(
            client.post(
                "/v1/accounts/A1/top-ups",
                json={"amount": "1.00"},
                headers=auth(keys[role]) | {"Idempotency-Key": "k"},
            ),
            403,
        )
    problem(
        client.post(
            "/v1/accounts/A1/top-ups", json={"amount": "1.00"}, headers={"Idempotency-Key": "k"}
        ),
        401,
    )


def test_reversal_posts_the_opposite_once(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1", opening="0.00")
    entry_id = world.top_up("A1", "10.00", "pay-1").entry_id
    reason = {"reason": "charged back"}
    problem(
        client.post(
            f"/v1/entries/{entry_id}/reversal", json=reason, headers=auth(keys[Role.OPERATOR])
        ),
        403,
    )
    reversed_ = client.post(
        f"/v1/entries/{entry_id}/reversal", json=reason, headers=auth(keys[Role.BILLING])
    )
    assert reversed_.status_code == 201, reversed_.text
    found = body(reversed_)
    assert (found["amount"], found["balance_after"], found["sequence"]) == ("-10.00", "0.00", 2)
    again = client.post(
        f"/v1/entries/{entry_id}/reversal", json=reason, headers=auth(keys[Role.BILLING])
    )
    assert "already reversed" in problem(again, 409)["detail"]
    problem(
        client.post(
            f"/v1/entries/{'0' * 32}/reversal", json=reason, headers=auth(keys[Role.BILLING])
        ),
        404,
    )
    empty = problem(
        client.post(
            f"/v1/entries/{entry_id}/reversal",
            json={"reason": ""},
            headers=auth(keys[Role.BILLING]),
        ),
        422,
    )
    assert empty["errors"][0]["field"] == "reason"


@pytest.fixture
def controlled(engine: Engine, world: World) -> Iterator[TestClient]:
    """The API with credit control: top-ups repay emergency credit and queue reconnection."""
    app = create_app(engine, clock=world.clock, policy=ControlPolicy(friendly=None))
    with TestClient(app) as test_client:
        yield test_client


def test_emergency_credit_is_repaid_from_the_next_top_up(
    controlled: TestClient, keys: dict[Role, str], world: World
) -> None:
    world.account("A1", opening="0.50")
    world.meter("M1", "A1")
    with world.engine.begin() as connection:
        connection.execute(meters.update().values(relay="open"))
    terms = {"amount": "5.00", "available_below": "1.00"}
    problem(
        controlled.post(
            "/v1/accounts/A1/emergency-credit", json=terms, headers=auth(keys[Role.BILLING])
        ),
        403,
    )
    lent = controlled.post(
        "/v1/accounts/A1/emergency-credit", json=terms, headers=auth(keys[Role.OPERATOR])
    )
    assert lent.status_code == 201, lent.text
    assert body(lent)["balance_after"] == "5.50"
    again = controlled.post(
        "/v1/accounts/A1/emergency-credit", json=terms, headers=auth(keys[Role.OPERATOR])
    )
    assert "not yet repaid" in problem(again, 409)["detail"]
    balance = body(controlled.get("/v1/accounts/A1/balance", headers=auth(keys[Role.READ_ONLY])))
    assert balance["emergency_credit"] == "5.00"
    with world.engine.begin() as connection:  # let the relay command for the loan be confirmed
        connection.execute(meter_commands.update().values(status="confirmed"))
    paid = controlled.post(
        "/v1/accounts/A1/top-ups",
        json={"amount": "20.00"},
        headers=auth(keys[Role.BILLING]) | {"Idempotency-Key": "p"},
    )
    assert paid.status_code == 201, paid.text
    kinds = [(e.kind, str(e.amount)) for e in world.entries("A1")]
    assert kinds[-2:] == [("top_up", "20.00"), ("emergency_repayment", "-5.00")]
    balance = body(controlled.get("/v1/accounts/A1/balance", headers=auth(keys[Role.READ_ONLY])))
    assert (balance["balance"], balance["emergency_credit"]) == ("20.50", "0.00")
    with world.engine.connect() as connection:
        pending = (
            connection.execute(
                select(meter_commands.c.action).where(meter_commands.c.status == "pending")
            )
            .scalars()
            .all()
        )
    assert pending == ["relay_close"]
