"""Reports: ABC classification with deterministic ties, arrears with days of credit left."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from gateway.queries.reports import classify
from tests.api.conftest import auth
from tests.ledger.world import World, reading


def strict_json(text: str) -> Any:
    def no_float(token: str) -> Any:
        raise AssertionError(f"float {token} in JSON")

    return json.loads(text, parse_float=no_float)


def test_classify_cuts_and_ties() -> None:
    totals = {f"a{i:02}": Decimal(100 - i) for i in range(20)}  # a00 most ... a19 least
    ranked = classify(totals, Decimal(5), Decimal(15))
    assert [r.abc_class for r in ranked] == ["A"] + ["B"] * 3 + ["C"] * 16
    totals["a01"] = totals["a00"]  # tie with the only A: both A, whatever the ids
    totals["a05"] = totals["a03"]  # tie with the last B: B
    totals["a19"] = Decimal(0)  # consumed nothing: always C
    by_id = {r.account_id: r.abc_class for r in classify(totals, Decimal(5), Decimal(15))}
    assert (by_id["a00"], by_id["a01"], by_id["a05"], by_id["a19"]) == ("A", "A", "B", "C")
    assert all(r.abc_class == "C" for r in classify(dict.fromkeys("xyz", Decimal(0)),
                                                   Decimal(5), Decimal(15)))  # fmt: skip


def test_abc_report(client: TestClient, world: World, keys: dict[Role, str]) -> None:
    world.clock.advance(timedelta(days=1))
    for index, kwh in enumerate(("50", "10", "10", "0")):
        world.account(f"A{index}")
        world.meter(f"M{index}", f"A{index}")
        world.ingest(reading(f"M{index}", 0, "0"), reading(f"M{index}", 60, kwh))
    params = {"from": "2024-06-01T00:00:00Z", "to": "2024-07-01T00:00:00Z", "a": "25", "b": "25"}
    response = client.get("/v1/reports/abc", params=params, headers=auth(keys[Role.BILLING]))
    assert response.status_code == 200, response.text
    body = strict_json(response.text)
    assert [(r["account_id"], r["consumption_kwh"], r["abc_class"]) for r in body["accounts"]] == [
        ("A0", "50", "A"), ("A1", "10", "B"), ("A2", "10", "B"), ("A3", "0", "C"),
    ]  # fmt: skip
    assert body["counts"] == {"A": 1, "B": 2, "C": 1}
    assert body["consumption_kwh"]["B"] == "20"
    assert "higher class" in body["rule"]
    bad = {**params, "a": "60", "b": "50"}
    assert client.get("/v1/reports/abc", params=bad,
                      headers=auth(keys[Role.BILLING])).status_code == 422  # fmt: skip
    assert client.get("/v1/reports/abc", params=params,
                      headers=auth(keys[Role.FIELD_TECH])).status_code == 403  # fmt: skip


def test_arrears_with_days_of_credit_left(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    world.clock.advance(timedelta(days=1))  # now 2024-06-02
    world.account("LOW", opening="6.00")
    world.account("NEG", opening="-1.00")
    world.account("RICH", opening="500.00")
    world.account("IDLE", opening="2.00")
    world.meter("M1", "LOW")
    world.ingest(reading("M1", 0, "0"), reading("M1", 600, "10.973665"))  # 3.00 spent
    headers = auth(keys[Role.READ_ONLY])
    body = strict_json(client.get("/v1/reports/arrears?below=5&window_days=3",
                                  headers=headers).text)  # fmt: skip
    rows = {r["account_id"]: r for r in body["accounts"]}
    assert [r["account_id"] for r in body["accounts"]] == ["NEG", "IDLE", "LOW"]
    assert rows["NEG"]["in_arrears"] is True
    assert rows["NEG"]["days_of_credit_left"] == "0"
    assert rows["IDLE"]["days_of_credit_left"] is None
    assert rows["LOW"]["balance"] == "3.00"
    assert rows["LOW"]["spend_per_day"] == "1.0000"
    assert rows["LOW"]["days_of_credit_left"] == "3.0"
    default = client.get("/v1/reports/arrears", headers=headers).json()
    assert [r["account_id"] for r in default["accounts"]] == ["NEG"]
