"""GET /v1/dashboard/summary: who may read it, and what it says about the seeded network."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth import Role
from gateway.storage.schema import accounts
from tests.ledger.world import T0, World, reading

URL = "/v1/dashboard/summary"


def get(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    response = client.get(URL, headers={"X-API-Key": key}, params=params)
    assert response.status_code == 200, response.text

    def no_float(token: str) -> Any:
        raise AssertionError(f"float {token} in JSON: money and kWh travel as strings")

    body: dict[str, Any] = json.loads(response.text, parse_float=no_float)
    return body


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_and_only_operators_may_acknowledge(
    client: TestClient, keys: dict[Role, str], role: Role
) -> None:
    body = get(client, keys[role])
    assert body["role"] == role.value
    assert body["can_acknowledge"] is (role in {Role.ADMIN, Role.OPERATOR})


def test_a_missing_or_wrong_key_is_refused(client: TestClient, keys: dict[Role, str]) -> None:
    assert client.get(URL).status_code == 401
    wrong = keys[Role.OPERATOR][:-4] + "0000"
    assert client.get(URL, headers={"X-API-Key": wrong}).status_code == 401


def test_meters_online_relay_last_reading_and_commissioning(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = get(client, keys[Role.READ_ONLY])
    assert body["as_of"] == "2024-06-03T00:10:00Z"
    assert (body["meters_total"], body["offline_after_intervals"]) == (4, 4)
    got = {m["id"]: m for m in body["meters"]}
    assert list(got) == ["M-1001", "M-1002", "M-1003", "M-1004"]
    assert got["M-1001"] | {"serial": None} == {
        "id": "M-1001", "account_id": "ACC-1001", "serial": None, "online": True,
        "relay": "closed", "expected_interval_s": 3600,
        "last_reading_at": "2024-06-03T00:00:00Z", "last_reading_kwh": "1558.45",
        "commissioning_status": "passed",
    }  # fmt: skip
    silent = got["M-1003"]  # last read 42 h ago on a 1 h interval, disconnected
    assert (silent["online"], silent["relay"], silent["last_reading_at"]) == (
        False, "open", "2024-06-01T06:00:00Z",
    )  # fmt: skip
    assert silent["commissioning_status"] == "failed"
    never = got["M-1004"]
    assert (never["online"], never["last_reading_at"], never["last_reading_kwh"]) == (
        False, None, None,
    )  # fmt: skip
    assert never["commissioning_status"] == "not_commissioned"


def test_online_is_within_the_given_number_of_expected_intervals(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    key = keys[Role.FIELD_TECH]
    world.clock.now = T0 + timedelta(hours=52)  # M-1001 read at 48 h: 4 intervals exactly
    assert {m["id"] for m in get(client, key)["meters"] if m["online"]} == {"M-1001", "M-1002"}
    world.clock.advance(timedelta(seconds=1))
    assert not [m for m in get(client, key)["meters"] if m["online"]]
    online = get(client, key, offline_after_intervals=5)["meters"]
    assert {m["id"] for m in online if m["online"]} == {"M-1001", "M-1002"}


def test_accounts_balance_controls_and_days_of_credit_left(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    body = get(client, keys[Role.BILLING])
    got = {a["id"]: a for a in body["accounts"]}
    assert body["accounts_total"] == 4
    for account_id, account in got.items():
        assert Decimal(account["balance"]) == world.balance(account_id)
        assert account["currency"] == "EUR"
    lent = got["ACC-1002"]
    assert (Decimal(lent["emergency_credit"]), Decimal(lent["debt"])) == (Decimal(5), Decimal(0))
    assert got["ACC-1001"]["emergency_credit"] == "0"
    assert got["ACC-1004"]["days_of_credit_left"] is None  # nothing consumed: no forecast
    assert got["ACC-1004"]["last_sequence"] == 0
    assert got["ACC-1001"]["last_sequence"] == len(world.entries("ACC-1001"))
    assert got["ACC-1001"]["days_of_credit_left"] == expected_days(world, "ACC-1001")


def expected_days(world: World, account_id: str) -> str:
    """Balance / (charge so far this cycle / days since the cycle began), to 0.1 down."""
    with world.engine.connect() as connection:
        row = connection.execute(select(accounts).where(accounts.c.id == account_id)).one()
    elapsed = Decimal((world.clock() - row.cycle_start).total_seconds()) / 86400
    per_day = row.cycle_exact_charge / max(Decimal(1), elapsed)
    return str((row.balance / per_day).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def test_days_of_credit_left_by_hand(
    client: TestClient, keys: dict[Role, str], world: World
) -> None:
    # 10 kWh at 0.2734 = 2.734 charged in a cycle begun 2 days 10 min ago: 1.36227... a day;
    # the balance 10.00 - 2.73 = 7.27 lasts 5.33... days.
    world.account("ACC-2000", opening="10.00")
    world.meter("M-2000", "ACC-2000", max_power_kw=Decimal(100_000))
    world.ingest(reading("M-2000", 60 * 47, "0"), reading("M-2000", 60 * 48, "10"))
    got = {a["id"]: a for a in get(client, keys[Role.OPERATOR])["accounts"]}
    assert (got["ACC-2000"]["balance"], got["ACC-2000"]["days_of_credit_left"]) == ("7.27", "5.3")
    world.ingest(reading("M-2000", 60 * 48 + 5, "40"))  # 30 kWh more: balance below zero
    got = {a["id"]: a for a in get(client, keys[Role.OPERATOR])["accounts"]}
    assert Decimal(got["ACC-2000"]["balance"]) < 0
    assert got["ACC-2000"]["days_of_credit_left"] == "0.0"


def test_alerts_unacknowledged_first_then_newest(client: TestClient, keys: dict[Role, str]) -> None:
    body = get(client, keys[Role.READ_ONLY])
    shown = [(a["kind"], a["account_id"], a["acknowledged_by"]) for a in body["alerts"]]
    assert shown == [
        ("meter_offline", "ACC-1003", None),  # newest unacknowledged
        ("low_balance", "ACC-1002", None),
        ("low_balance", "ACC-1003", "ops-alice"),  # acknowledged: last
    ]
    assert body["unacknowledged_alerts"] == 2
    operator = {"X-API-Key": keys[Role.OPERATOR]}
    ack = client.post(f"/v1/alerts/{body['alerts'][0]['id']}/acknowledge", headers=operator)
    assert ack.status_code == 200, ack.text
    after = get(client, keys[Role.READ_ONLY])
    assert after["unacknowledged_alerts"] == 1
    assert next(a["kind"] for a in after["alerts"]) == "low_balance"
    assert after["alerts"][0]["acknowledged_at"] is None


def test_limits_cut_the_lists_and_keep_the_totals(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = get(client, keys[Role.READ_ONLY], limit=2, alert_limit=1)
    assert [m["id"] for m in body["meters"]] == ["M-1001", "M-1002"]
    assert [a["id"] for a in body["accounts"]] == ["ACC-1001", "ACC-1002"]
    assert (body["meters_total"], body["accounts_total"], len(body["alerts"])) == (4, 4, 1)
    bad = client.get(URL, headers={"X-API-Key": keys[Role.READ_ONLY]}, params={"limit": 0})
    assert bad.status_code == 422


def test_the_pages_are_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    for path, kind in (("/dashboard", "text/html"), ("/dashboard/", "text/html"),
                       ("/dashboard/app.js", "text/javascript"),
                       ("/dashboard/chart.js", "text/javascript"),
                       ("/dashboard/style.css", "text/css")):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind)
        assert "script-src 'self'" in response.headers["content-security-policy"]
    page = client.get("/dashboard").text
    assert "http://" not in page
    assert "https://" not in page
    for script in ("app.js", "chart.js"):
        assert "innerHTML" not in client.get(f"/dashboard/{script}").text
    assert client.get("/dashboard/__init__.py").status_code == 404
