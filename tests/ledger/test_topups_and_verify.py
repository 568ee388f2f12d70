"""Top-ups exactly once, corrections as new entries, and `ledger verify` catching edits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from gateway.cli import app
from gateway.ledger.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway.storage.schema import accounts, ledger_entries, readings
from tests.ledger.world import World, reading

D = Decimal


def test_top_up_retried_with_the_same_reference_credits_once(world: World) -> None:
    first = world.top_up("A1", "20.00", "pay-1")
    again = world.top_up("A1", "20.00", "pay-1")
    assert again.replayed
    assert (again.entry_id, again.balance_after) == (first.entry_id, D("120.00"))
    assert world.balance("A1") == D("120.00")
    assert len(world.entries("A1")) == 1


def test_same_reference_other_amount_is_refused_clearly(world: World) -> None:
    world.top_up("A1", "20.00", "pay-1")
    with pytest.raises(ConflictError, match=r"'pay-1' was already used for 20\.00 EUR, not 25\.00"):
        world.top_up("A1", "25.00", "pay-1")
    assert world.balance("A1") == D("120.00")


@pytest.mark.parametrize(("amount", "match"), [("0", "positive"), ("-5", "positive"),
                                               ("1.001", "minor units")])  # fmt: skip
def test_bad_top_up_amounts(world: World, amount: str, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        world.top_up("A1", amount, "x")


def test_unknown_account(world: World) -> None:
    with pytest.raises(NotFoundError, match="'ZZ'"):
        world.top_up("ZZ", "1", "x")


def test_corrections_are_new_entries(world: World) -> None:
    world.ingest(reading("M1", 0, "10"), reading("M1", 15, "12"))
    deduction = world.entries("A1")[-1]
    reversal = world.reverse(deduction.id, "meter read wrong")
    assert reversal.amount == -deduction.amount
    with pytest.raises(ConflictError, match="already reversed"):
        world.reverse(deduction.id)
    world.adjust("A1", "-0.30", "re-post after checking the meter on site")
    kinds = [(e.kind, e.amount) for e in world.entries("A1")]
    assert kinds == [("deduction", D("-0.55")), ("reversal", D("0.55")), ("adjustment", D("-0.30"))]
    assert world.balance("A1") == D("99.70")
    assert world.verify().violations == ()


def test_ledger_rows_cannot_be_updated_or_deleted(world: World, engine: Engine) -> None:
    world.top_up("A1", "5", "p")
    for statement in (update(ledger_entries).values(amount=D(500)), ledger_entries.delete()):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(statement)
    assert world.balance("A1") == D("105")


def _drop_guard(engine: Engine) -> None:
    """What someone with database rights would do before editing a row by hand."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER ledger_entries_append_only ON ledger_entries"))
        else:
            connection.execute(text("DROP TRIGGER ledger_entries_no_update"))
            connection.execute(text("DROP TRIGGER ledger_entries_no_delete"))


def _busy_account(world: World) -> None:
    world.ingest(*(reading("M1", 15 * i, f"{10 + i * D('0.7')}") for i in range(6)))
    world.top_up("A1", "10", "p1")
    world.ingest(reading("M1", 90, "15"))


def test_verify_passes_on_a_clean_ledger_and_recomputes_deductions(world: World) -> None:
    _busy_account(world)
    report = world.verify()
    assert report.violations == ()
    assert report.deductions_recomputed == 6
    assert report.entries == 7


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda: update(ledger_entries).where(ledger_entries.c.kind == "top_up")
         .values(external_ref="forged"), "hash_chain"),
        (lambda: update(ledger_entries).where(ledger_entries.c.sequence == 3)
         .values(amount=D("-0.01")), "arithmetic"),
        (lambda: update(ledger_entries).where(ledger_entries.c.sequence == 4)
         .values(balance_before=D(1000)), "balance_chain"),
        (lambda: ledger_entries.delete().where(ledger_entries.c.sequence == 2), "sequence"),
        (lambda: update(accounts).where(accounts.c.id == "A1").values(balance=D("999.99")),
         "account_balance"),
        (lambda: update(readings).where(readings.c.raw_kwh == D("12.1"))
         .values(continuous_kwh=D("11.5")), "reading"),
    ],
)  # fmt: skip
def test_verify_names_the_first_violation_of_a_hand_edit(
    world: World, engine: Engine, db_url: str, edit: object, rule: str
) -> None:
    _busy_account(world)
    _drop_guard(engine)
    with engine.begin() as connection:
        connection.execute(edit())  # type: ignore[operator]
    (violation,) = world.verify().violations
    assert violation.account_id == "A1"
    assert violation.rule == rule
    result = CliRunner().invoke(app, ["ledger", "verify", "--database-url", db_url])
    assert result.exit_code == 1
    assert "VIOLATION account A1" in result.output
    assert f": {rule}: " in result.output


def test_recompute_catches_a_rehashed_forgery(world: World, engine: Engine) -> None:
    """Editing amounts and rebuilding the hash chain still fails: the readings disagree."""
    from gateway.ledger.codec import GENESIS_HASH, entry_hash  # noqa: PLC0415

    _busy_account(world)
    _drop_guard(engine)
    rows = world.entries("A1")
    balance, previous = D("100.00"), GENESIS_HASH
    with engine.begin() as connection:
        for row in rows:
            entry = row._asdict()
            if row.sequence == 2:
                entry["amount"] = D("-0.01")
            entry["balance_before"], entry["balance_after"] = balance, balance + entry["amount"]
            entry["prev_hash"], entry["hash"] = previous, entry_hash(entry, previous)
            connection.execute(
                update(ledger_entries).where(ledger_entries.c.id == row.id).values(**entry)
            )
            balance, previous = entry["balance_after"], entry["hash"]
        connection.execute(
            update(accounts)
            .where(accounts.c.id == "A1")
            .values(balance=balance, last_hash=previous)
        )
    (violation,) = world.verify().violations
    assert (violation.sequence, violation.rule) == (2, "recompute")
    assert "recomputes to -0.19, stored -0.01" in violation.detail


def test_a_read_only_unit_of_work_does_not_wait_for_a_writer(world: World, engine: Engine) -> None:
    from gateway.storage.db import UnitOfWork  # noqa: PLC0415

    with UnitOfWork(engine) as writer:  # holds SQLite's write lock until it ends
        writer.connection.execute(update(accounts).where(accounts.c.id == "A1")
                                  .values(status="active"))  # fmt: skip
        with UnitOfWork(engine, read_only=True) as reader:
            balance = reader.connection.execute(
                text("SELECT balance FROM accounts WHERE id = 'A1'")
            ).scalar_one()
        assert D(balance) == D("100.00")
