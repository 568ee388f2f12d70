from __future__ import annotations

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem


def _account(client: TestClient, key: str, account_id: str, **extra: str) -> dict[str, object]:
    payload = {"id": account_id, "currency": "EUR", "tariff_id": "flat", **extra}
    response = client.post("/v1/accounts", json=payload, headers=auth(key))
    assert response.status_code == 201, response.text
    created: dict[str, object] = body(response)
    return created


def test_create_read_and_list_with_keyset_pages(client: TestClient, keys: dict[Role, str]) -> None:
    billing, reader = keys[Role.BILLING], keys[Role.READ_ONLY]
    created = _account(client, billing, "A2", opening_balance="7.50")
    assert created["balance"] == "7.50"
    assert created["tariffs"] == [{"tariff_id": "flat", "effective_from": "1970-01-01T00:00:00Z"}]
    for account_id in ("A1", "A3"):
        _account(client, billing, account_id)
    first = body(client.get("/v1/accounts", params={"limit": 2}, headers=auth(reader)))
    assert [a["id"] for a in first["items"]] == ["A1", "A2"]
    assert first["next_after"] == "A2"
    second = body(
        client.get("/v1/accounts", params={"after": "A2", "limit": 2}, headers=auth(reader))
    )
    assert [a["id"] for a in second["items"]] == ["A3"]
    assert second["next_after"] is None
    assert client.get("/v1/accounts").status_code == 401
    assert body(client.get("/v1/accounts/A2", headers=auth(reader)))["opening_balance"] == "7.50"
    again = {"id": "A2", "currency": "EUR", "tariff_id": "flat"}
    taken = problem(client.post("/v1/accounts", json=again, headers=auth(billing)), 409)
    assert "already exists" in taken["detail"]


def test_balance_carries_controls_and_the_last_entry(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _account(client, keys[Role.BILLING], "A1", opening_balance="3.00")
    fresh = body(client.get("/v1/accounts/A1/balance", headers=auth(keys[Role.READ_ONLY])))
    assert fresh == {
        "account_id": "A1",
        "balance": "3.00",
        "currency": "EUR",
        "as_of": "2024-06-01T00:00:00Z",
        "last_sequence": 0,
        "last_entry_at": None,
        "emergency_credit": "0",
        "debt": "0",
        "protected": False,
    }
    headers = auth(keys[Role.BILLING]) | {"Idempotency-Key": "p1"}
    client.post("/v1/accounts/A1/top-ups", json={"amount": "2.50"}, headers=headers)
    after = body(client.get("/v1/accounts/A1/balance", headers=auth(keys[Role.READ_ONLY])))
    assert (after["balance"], after["last_sequence"]) == ("5.50", 1)
    assert after["last_entry_at"] == "2024-06-01T00:00:00Z"
    problem(client.get("/v1/accounts/NOPE/balance", headers=auth(keys[Role.ADMIN])), 404)


def test_decimal_input_must_be_a_string(client: TestClient, keys: dict[Role, str]) -> None:
    payload = {"id": "A1", "currency": "EUR", "tariff_id": "flat", "opening_balance": 20.5}
    found = problem(client.post("/v1/accounts", json=payload, headers=auth(keys[Role.ADMIN])), 422)
    assert found["errors"][0]["field"] == "opening_balance"
    assert "JSON strings" in found["errors"][0]["reason"]
    payload |= {"opening_balance": "1e3"}
    found = problem(client.post("/v1/accounts", json=payload, headers=auth(keys[Role.ADMIN])), 422)
    assert found["detail"].startswith("opening_balance:")
    payload |= {"opening_balance": "1", "colour": "red"}
    found = problem(client.post("/v1/accounts", json=payload, headers=auth(keys[Role.ADMIN])), 422)
    assert found["errors"][0]["field"] == "colour"


def test_tariff_change(client: TestClient, keys: dict[Role, str]) -> None:
    billing = auth(keys[Role.BILLING])
    _account(client, keys[Role.BILLING], "A1")
    change = {"tariff_id": "tou", "effective_from": "2024-07-01T00:00:00+02:00"}
    assert (
        client.post(
            "/v1/accounts/A1/tariff", json=change, headers=auth(keys[Role.READ_ONLY])
        ).status_code
        == 403
    )
    changed = client.post("/v1/accounts/A1/tariff", json=change, headers=billing)
    assert changed.status_code == 201, changed.text
    assert body(changed)["tariffs"][-1] == {
        "tariff_id": "tou",
        "effective_from": "2024-06-30T22:00:00Z",
    }
    problem(client.post("/v1/accounts/A1/tariff", json=change, headers=billing), 409)
    unknown = change | {"tariff_id": "nope", "effective_from": "2024-08-01T00:00:00Z"}
    problem(client.post("/v1/accounts/A1/tariff", json=unknown, headers=billing), 404)
    naive = change | {"effective_from": "2024-08-01T00:00:00"}
    found = problem(client.post("/v1/accounts/A1/tariff", json=naive, headers=billing), 422)
    assert found["errors"][0]["field"] == "effective_from"


def test_tariff_change_cannot_reprice_charged_consumption(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _account(client, keys[Role.BILLING], "A1", opening_balance="10.00")
    meter = {
        "id": "M1",
        "account_id": "A1",
        "serial": "S1",
        "installed_at": "2024-06-01T00:00:00Z",
        "install_reading_kwh": "0",
    }
    assert (
        client.post("/v1/meters", json=meter, headers=auth(keys[Role.OPERATOR])).status_code == 201
    )
    batch = {"readings": [{"meter_id": "M1", "ts": "2024-06-01T01:00:00Z", "energy_kwh": "1"}]}
    client.post("/v1/readings", json=batch, headers=auth(keys[Role.BILLING]))
    change = {"tariff_id": "tou", "effective_from": "2024-06-01T00:30:00Z"}
    found = problem(
        client.post("/v1/accounts/A1/tariff", json=change, headers=auth(keys[Role.BILLING])), 409
    )
    assert "already charged" in found["detail"]


def test_openapi_says_decimals_are_strings_with_a_pattern(client: TestClient) -> None:
    # the schema itself may hold float bounds (minimum: 60.0); the data it describes may not
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    decimals = {
        "AccountOut": "balance", "BalanceOut": "emergency_credit", "TopUpIn": "amount",
        "TopUpOut": "balance_after", "MeterIn": "max_power_kw", "ReadingOut": "energy_kwh",
        "ReadingBody": "energy_kwh", "AlertOut": "balance",
    }  # fmt: skip
    for model, field in decimals.items():
        spec = schemas[model]["properties"][field]
        spec = next((s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"), spec)
        assert spec["type"] == "string", (model, field)
        assert spec["pattern"].startswith("^"), (model, field)
    for model in ("AccountIn", "TopUpIn", "MeterIn", "ReadingsIn", "CommandIn", "ExchangeIn"):
        assert schemas[model]["examples"], model
