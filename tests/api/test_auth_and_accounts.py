from __future__ import annotations

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth


def test_401_without_or_with_a_bad_key_and_403_for_the_wrong_role(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = {"id": "A1", "currency": "EUR", "tariff_id": "flat", "opening_balance": "20.00"}
    missing = client.post("/v1/accounts", json=body)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.post("/v1/accounts", json=body, headers=auth(keys[Role.BILLING] + "x"))
    assert wrong.status_code == 401
    reader = client.post("/v1/accounts", json=body, headers=auth(keys[Role.READ_ONLY]))
    assert reader.status_code == 403
    assert "needs admin, billing" in reader.json()["detail"]
    created = client.post("/v1/accounts", json=body, headers=auth(keys[Role.BILLING]))
    assert created.status_code == 201, created.text
    assert created.json()["balance"] == "20.00"
    read = client.get("/v1/accounts/A1", headers=auth(keys[Role.READ_ONLY]))
    assert read.json()["balance"] == "20.00"


def test_validation_errors_name_the_field(client: TestClient, keys: dict[Role, str]) -> None:
    body = {"id": "A1", "currency": "euro", "tariff_id": "flat"}
    response = client.post("/v1/accounts", json=body, headers=auth(keys[Role.ADMIN]))
    assert response.status_code == 422
    assert response.json()["detail"].startswith("currency:")
    missing = client.get("/v1/accounts/NOPE", headers=auth(keys[Role.ADMIN]))
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not Found"
