from __future__ import annotations

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.api.jsonstrict import body, problem
from tests.ledger.world import FLAT

V2 = FLAT | {"version": 2, "effective_from": "2024-07-01", "price_per_kwh": "0.2901"}


def test_billing_publishes_a_version_and_anyone_lists_them(
    client: TestClient, keys: dict[Role, str]
) -> None:
    for role in (Role.OPERATOR, Role.READ_ONLY, Role.FIELD_TECH):
        problem(client.post("/v1/tariffs", json=V2, headers=auth(keys[role])), 403)
    published = client.post("/v1/tariffs", json=V2, headers=auth(keys[Role.BILLING]))
    assert published.status_code == 201, published.text
    found = body(published)
    assert (found["label"], found["effective_from"]) == ("flat@v2", "2024-07-01T00:00:00Z")
    assert found["document"]["price_per_kwh"] == "0.2901"
    again = client.post("/v1/tariffs", json=V2, headers=auth(keys[Role.ADMIN]))
    assert again.status_code == 201  # the same version again: a no-op
    listed = body(client.get("/v1/tariffs/flat/versions", headers=auth(keys[Role.READ_ONLY])))
    assert [v["label"] for v in listed] == ["flat@v1", "flat@v2"]
    problem(client.get("/v1/tariffs/nope/versions", headers=auth(keys[Role.READ_ONLY])), 404)


def test_invalid_tariffs_name_the_field(client: TestClient, keys: dict[Role, str]) -> None:
    billing = auth(keys[Role.BILLING])
    bad_price = V2 | {"price_per_kwh": "cheap"}
    found = problem(client.post("/v1/tariffs", json=bad_price, headers=billing), 422)
    assert found["errors"][0]["field"] == "price_per_kwh"
    assert found["detail"].startswith("price_per_kwh:")
    no_zone = {k: v for k, v in V2.items() if k != "timezone"}
    found = problem(client.post("/v1/tariffs", json=no_zone, headers=billing), 422)
    assert found["errors"][0]["field"] == "timezone"
    changed = FLAT | {"price_per_kwh": "0.30"}
    assert (
        "new version"
        in problem(client.post("/v1/tariffs", json=changed, headers=billing), 409)["detail"]
    )
    other_currency = V2 | {"currency": "USD"}
    problem(client.post("/v1/tariffs", json=other_currency, headers=billing), 422)
    problem(client.post("/v1/tariffs", json=["not", "an", "object"], headers=billing), 422)
