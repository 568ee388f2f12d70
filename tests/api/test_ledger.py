"""Ledger pages: transparent deductions, filters, stable keyset pagination, CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.ledger.world import World, reading


def strict_json(text: str) -> Any:
    """JSON where a float anywhere fails the test: money and kWh must be decimal strings."""

    def no_float(token: str) -> Any:
        raise AssertionError(f"float {token} in JSON")

    return json.loads(text, parse_float=no_float)


def _setup(world: World) -> None:
    world.clock.advance(timedelta(days=1))
    world.account("A1")
    world.meter("M1", "A1")
    world.ingest(reading("M1", 0, "100"), reading("M1", 60, "110"), reading("M1", 120, "125"))
    world.top_up("A1", "20.00", "pay-1")


def test_deduction_shows_readings_lines_prices_and_balances(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    _setup(world)
    response = client.get("/v1/accounts/A1/ledger", headers=auth(keys[Role.READ_ONLY]))
    assert response.status_code == 200, response.text
    body = strict_json(response.text)
    first = body["entries"][0]
    assert [e["kind"] for e in body["entries"]] == ["deduction", "deduction", "top_up"]
    assert first["previous"]["kwh"] == "100"
    assert first["current"]["kwh"] == "110"
    assert first["previous"]["ts"].startswith("2024-06-01T00:00")
    assert first["energy_kwh"] == "10"
    assert first["tariff_version"].startswith("flat")
    (line,) = first["lines"]
    assert (line["energy_kwh"], line["unit_price"], line["amount"]) == ("10", "0.2734", "2.734")
    assert first["amount"] == "-2.73"
    assert first["balance_before"] == "100.00"
    assert first["balance_after"] == "97.27"
    assert first["method"] == "single_slice"
    assert first["rounding"][0]["charged"] == "2.73"
    assert body["entries"][2]["external_ref"] == "pay-1"
    assert body["next_after_sequence"] is None
    assert body["next"] is None


def test_account_pages_are_stable_while_entries_arrive(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    _setup(world)
    headers = auth(keys[Role.BILLING])
    seen: list[int] = []
    url: str | None = "/v1/accounts/A1/ledger?limit=2"
    arrived = False
    while url:
        body = strict_json(client.get(url, headers=headers).text)
        seen += [e["sequence"] for e in body["entries"]]
        if not arrived:  # new entries land between the first and the second page
            world.top_up("A1", "5.00", "pay-2")
            world.ingest(reading("M1", 180, "130"))
            arrived = True
        url = body["next"]
        assert (url is None) == (body["next_after_sequence"] is None)
    assert seen == [1, 2, 3, 4, 5]


def test_filters_by_kind_and_time(client: TestClient, world: World, keys: dict[Role, str]) -> None:
    _setup(world)
    headers = auth(keys[Role.READ_ONLY])
    kinds = client.get("/v1/accounts/A1/ledger?kind=top_up", headers=headers).json()
    assert [e["kind"] for e in kinds["entries"]] == ["top_up"]
    timed = client.get(
        "/v1/accounts/A1/ledger",
        params={"from": "2024-06-01T01:30:00Z", "to": "2024-06-01T03:00:00+00:00"},
        headers=headers,
    ).json()
    assert [e["sequence"] for e in timed["entries"]] == [2]
    naive = client.get("/v1/accounts/A1/ledger?from=2024-06-01T01:30:00", headers=headers)
    assert naive.status_code == 422


def test_meter_ledger_cursor_pages(client: TestClient, world: World, keys: dict[Role, str]) -> None:
    _setup(world)
    headers = auth(keys[Role.FIELD_TECH])
    first = strict_json(client.get("/v1/meters/M1/ledger?limit=1", headers=headers).text)
    assert [e["sequence"] for e in first["entries"]] == [1]
    world.ingest(reading("M1", 180, "130"))
    second = client.get(first["next"], headers=headers).json()
    assert [e["sequence"] for e in second["entries"]] == [2]
    rest = client.get(f"/v1/meters/M1/ledger?cursor={second['next_cursor']}", headers=headers)
    assert [e["sequence"] for e in rest.json()["entries"]] == [4]
    assert rest.json()["next_cursor"] is None
    bad = client.get("/v1/meters/M1/ledger?cursor=bm9wZQ==", headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_csv_has_one_row_per_priced_line(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    world.clock.advance(timedelta(days=1))
    world.account("T1", tariff_id="tou")
    world.meter("MT", "T1")
    world.ingest(reading("MT", 0, "0"), reading("MT", 420, "7"))  # 00:00-07:00: valley + peak
    world.top_up("T1", "10.00", "pay-t")
    headers = auth(keys[Role.READ_ONLY])
    for response in (
        client.get("/v1/accounts/T1/ledger.csv", headers=headers),
        client.get("/v1/accounts/T1/ledger", headers={**headers, "Accept": "text/csv"}),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["kind"], r["line_no"], r["line_band"]) for r in rows] == [
            ("deduction", "1", "valley"), ("deduction", "2", "peak"), ("top_up", "", ""),
        ]  # fmt: skip
        assert rows[0]["line_energy_kwh"] == "6"
        assert rows[0]["line_unit_price"] == "0.2"
        assert rows[0]["prev_kwh"] == "0"
        assert rows[0]["curr_kwh"] == "7"
    paged = client.get("/v1/accounts/T1/ledger.csv?limit=1", headers=headers)
    assert 'rel="next"' in paged.headers["link"]


def test_roles_and_missing(client: TestClient, world: World, keys: dict[Role, str]) -> None:
    _setup(world)
    assert client.get("/v1/accounts/A1/ledger").status_code == 401
    missing = client.get("/v1/accounts/NOPE/ledger", headers=auth(keys[Role.ADMIN]))
    assert missing.status_code == 404
    assert client.get("/v1/meters/NOPE/ledger", headers=auth(keys[Role.ADMIN])).status_code == 404
