"""Monthly statements: reconcile with a calculator, local month boundaries, printable HTML."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.ledger.world import FLAT, World, reading


def strict_json(text: str) -> Any:
    def no_float(token: str) -> Any:
        raise AssertionError(f"float {token} in JSON")

    return json.loads(text, parse_float=no_float)


def _reconciles(body: dict[str, Any]) -> None:
    opening, credits = Decimal(body["opening_balance"]), Decimal(body["credits"])
    debits, closing = Decimal(body["debits"]), Decimal(body["closing_balance"])
    assert opening + credits - debits == closing
    entries = body["top_ups"] + body["deductions"] + body["standing_charges"] + body["other"]
    assert sum((Decimal(e["amount"]) for e in entries), Decimal(0)) == credits - debits
    assert body["reconciles"] is True
    assert "equals closing" in body["check"]


def test_statements_reconcile_even_with_a_late_reading(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    world.clock.advance(timedelta(days=1))  # 2024-06-02
    world.account("A1")
    world.meter("M1", "A1")
    world.top_up("A1", "20.00", "<b>pay-1</b>")  # sequence 1, effective June 2
    # Posted after the top-up, effective on May 31 (sequence 2) and June 1 (sequence 3).
    world.ingest(reading("M1", -120, "100"), reading("M1", -60, "110"), reading("M1", 60, "125"))
    headers = auth(keys[Role.READ_ONLY])
    may = strict_json(client.get("/v1/accounts/A1/statements/2024-05", headers=headers).text)
    june = strict_json(client.get("/v1/accounts/A1/statements/2024-06", headers=headers).text)
    _reconciles(may)
    _reconciles(june)
    assert may["opening_balance"] == "100.00"
    assert may["credits"] == "0"
    assert [e["sequence"] for e in may["deductions"]] == [2]
    assert may["deductions"][0]["lines"][0]["unit_price"] == "0.2734"
    assert may["energy_kwh"] == "10"
    assert june["opening_balance"] == may["closing_balance"]
    assert [e["sequence"] for e in june["top_ups"]] == [1]
    assert [e["sequence"] for e in june["deductions"]] == [3]
    assert Decimal(june["closing_balance"]) == world.balance("A1")
    july = client.get("/v1/accounts/A1/statements/2024-07", headers=headers).json()
    assert july["opening_balance"] == july["closing_balance"] == june["closing_balance"]


def test_month_boundaries_follow_the_tariff_timezone(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    world.tariff({**FLAT, "tariff_id": "sh", "timezone": "Asia/Shanghai"})
    world.clock.advance(timedelta(days=1))
    world.account("S1", tariff_id="sh")
    world.meter("MS", "S1")
    # 12:00Z and 14:00Z May 31 are May in Shanghai (UTC+8); 19:00Z May 31 is June 1 03:00 there.
    world.ingest(reading("MS", -720, "0"), reading("MS", -600, "2"), reading("MS", -300, "5"))
    headers = auth(keys[Role.BILLING])
    june = client.get("/v1/accounts/S1/statements/2024-06", headers=headers).json()
    assert june["timezone"] == "Asia/Shanghai"
    assert june["period_start"].startswith("2024-05-31T16:00:00")
    assert [e["energy_kwh"] for e in june["deductions"]] == ["3"]
    may = client.get("/v1/accounts/S1/statements/2024-05", headers=headers).json()
    assert [e["energy_kwh"] for e in may["deductions"]] == ["2"]
    _reconciles(june)
    _reconciles(may)


def test_html_statement_is_printable_and_escaped(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    world.clock.advance(timedelta(days=1))
    world.account("A1")
    world.meter("M1", "A1")
    world.ingest(reading("M1", 0, "100"), reading("M1", 60, "110"))
    world.top_up("A1", "20.00", "<script>x</script>")
    response = client.get("/v1/accounts/A1/statements/2024-06.html",
                          headers=auth(keys[Role.READ_ONLY]))  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "100.00 + 20.00 - 2.73 = 117.27 (equals closing 117.27)" in page
    assert "0.2734" in page
    assert "100 kWh at 2024-06-01T00:00:00+00:00" in page


def test_statement_errors(client: TestClient, world: World, keys: dict[Role, str]) -> None:
    headers = auth(keys[Role.READ_ONLY])
    assert client.get("/v1/accounts/NOPE/statements/2024-06", headers=headers).status_code == 404
    world.account("A1")
    assert client.get("/v1/accounts/A1/statements/2024-13", headers=headers).status_code == 422
    assert client.get("/v1/accounts/A1/statements/2024-06").status_code == 401
