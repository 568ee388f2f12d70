"""Disputes: opened on an entry, listed by status and overdue, resolved with an adjustment."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.conftest import auth
from tests.ledger.world import World, reading


def _deduction(world: World) -> str:
    world.clock.advance(timedelta(days=1))
    world.account("A1")
    world.meter("M1", "A1")
    world.ingest(reading("M1", 0, "100"), reading("M1", 60, "140"))
    return str(world.entries("A1")[0].id)


def test_open_list_and_resolve_with_an_adjustment(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    entry_id = _deduction(world)
    due = (world.clock() + timedelta(days=7)).isoformat()
    body = {"complaint": "40 kWh in an hour while away", "owner": "alice", "due_at": due}
    created = client.post(f"/v1/entries/{entry_id}/disputes", json=body,
                          headers=auth(keys[Role.BILLING]))  # fmt: skip
    assert created.status_code == 201, created.text
    dispute = created.json()
    assert (dispute["status"], dispute["account_id"], dispute["overdue"]) == ("open", "A1", False)
    reader = auth(keys[Role.READ_ONLY])
    assert client.get("/v1/disputes?overdue=true", headers=reader).json()["disputes"] == []
    world.clock.advance(timedelta(days=8))
    overdue = client.get("/v1/disputes?overdue=true&status=open", headers=reader).json()
    assert [d["id"] for d in overdue["disputes"]] == [dispute["id"]]
    before = world.balance("A1")
    resolved = client.post(
        f"/v1/disputes/{dispute['id']}/resolve",
        json={"status": "resolved", "resolution": "CT ratio was wrong", "adjustment": "5.47"},
        headers=auth(keys[Role.OPERATOR]),
    )
    assert resolved.status_code == 200, resolved.text
    closed = resolved.json()
    assert closed["status"] == "resolved"
    assert closed["overdue"] is False
    adjustment = world.entries("A1")[-1]
    assert adjustment.id == closed["adjustment_entry_id"]
    assert adjustment.kind == "adjustment"
    assert adjustment.amount == Decimal("5.47")
    assert world.balance("A1") == before + Decimal("5.47")
    assert dispute["id"] in adjustment.details["reason"]
    assert adjustment.details["related_entry_id"] == entry_id
    again = client.post(f"/v1/disputes/{dispute['id']}/resolve",
                        json={"status": "rejected", "resolution": "again"},
                        headers=auth(keys[Role.BILLING]))  # fmt: skip
    assert again.status_code == 409
    assert client.get("/v1/disputes?status=open", headers=reader).json()["disputes"] == []
    assert world.verify().violations == ()


def test_reject_without_adjustment_and_refusals(
    client: TestClient, world: World, keys: dict[Role, str]
) -> None:
    entry_id = _deduction(world)
    billing = auth(keys[Role.BILLING])
    due = (world.clock() + timedelta(days=1)).isoformat()
    body = {"complaint": "too much", "owner": "bob", "due_at": due}
    read_only = client.post(f"/v1/entries/{entry_id}/disputes", json=body,
                            headers=auth(keys[Role.READ_ONLY]))  # fmt: skip
    assert read_only.status_code == 403
    assert client.post("/v1/entries/nope/disputes", json=body, headers=billing).status_code == 404
    past = {**body, "due_at": (world.clock() - timedelta(days=1)).isoformat()}
    assert client.post(f"/v1/entries/{entry_id}/disputes", json=past,
                       headers=billing).status_code == 422  # fmt: skip
    dispute_id = client.post(f"/v1/entries/{entry_id}/disputes", json=body,
                             headers=billing).json()["id"]  # fmt: skip
    mixed = {"status": "rejected", "resolution": "no", "adjustment": "1.00"}
    refused = client.post(f"/v1/disputes/{dispute_id}/resolve", json=mixed, headers=billing)
    assert refused.status_code == 422
    count = len(world.entries("A1"))
    rejected = client.post(f"/v1/disputes/{dispute_id}/resolve",
                           json={"status": "rejected", "resolution": "readings are right"},
                           headers=billing)  # fmt: skip
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["adjustment_entry_id"] is None
    assert len(world.entries("A1")) == count
    got = client.get(f"/v1/disputes/{dispute_id}", headers=auth(keys[Role.READ_ONLY]))
    assert got.json()["resolution"] == "readings are right"
    assert client.get("/v1/disputes/nope", headers=billing).status_code == 404
