"""Credit control in the ledger's transaction: alerts, relay commands, allocation, jobs."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from gateway.core.alerts import AlertLevel, LevelKind
from gateway.core.credit import EmergencyCreditTerms, FriendlySchedule, RecoveryTerms
from gateway.ledger.controls import ControlPolicy
from gateway.ledger.errors import ConflictError
from gateway.ledger.ingest import record_readings
from gateway.ledger.jobs import detect_offline, post_standing_charges, review_credit
from gateway.ledger.topups import take_emergency_credit, top_up
from gateway.storage.schema import account_controls, alerts, meter_commands, meters, outbox
from tests.ledger.world import FLAT, T0, World, reading

D = Decimal
POLICY = ControlPolicy(
    alert_levels=(AlertLevel(LevelKind.MONEY, D(5), D(2)),),
    recovery=RecoveryTerms(share=D("0.25"), cap_per_top_up=D(4)),
)


class Controlled:
    """World plus a credit-control policy on every ledger call."""

    def __init__(self, world: World, policy: ControlPolicy = POLICY) -> None:
        self.world, self.policy = world, policy

    def ingest(self, *batch: Any) -> None:
        with self.world.uow() as uow:
            record_readings(uow, list(batch), now=self.world.clock(), tariffs=self.world.cache,
                            policy=self.policy)  # fmt: skip
            uow.commit()

    def top_up(self, amount: str, reference: str, account: str = "A1") -> None:
        with self.world.uow() as uow:
            top_up(uow, account, D(amount), reference, now=self.world.clock(), policy=self.policy)
            uow.commit()

    def rows(self, table: Any, *where: Any) -> list[Any]:
        with self.world.engine.connect() as connection:
            return list(connection.execute(select(table).where(*where)))


@pytest.fixture
def ctl(world: World) -> Controlled:
    world.meter("BIG", "A1", max_power_kw=D(100_000))  # spends a balance in a few readings
    return Controlled(world)


def kwh_for(euros: str) -> D:
    return D(euros) / D("0.2734")


def test_one_low_balance_alert_per_downward_crossing(ctl: Controlled) -> None:
    # A1 starts at 100.00 on 0.2734 EUR/kWh. Spend down to just under 5.00.
    ctl.ingest(reading("BIG", 0, "0"), reading("BIG", 15, "350"))  # 95.69 -> balance 4.31
    assert [a.kind for a in ctl.rows(alerts)] == ["low_balance"]
    (alert,) = ctl.rows(alerts)
    assert alert.message == "balance 4.31 EUR is below 5 EUR: about 0.0 days of credit left"
    topics = sorted((o.channel, o.topic) for o in ctl.rows(outbox))
    assert topics == [("mqtt", "accounts/A1/alerts"), ("webhook", "alert")]
    ctl.ingest(reading("BIG", 30, "351"))  # still below: no second alert
    assert len(ctl.rows(alerts)) == 1
    ctl.top_up("2.00", "t1")  # 6.04: above 5 but not above 5 + 2 margin -> stays disarmed
    ctl.ingest(reading("BIG", 45, "356"))  # 4.67
    assert len(ctl.rows(alerts)) == 1
    ctl.top_up("10.00", "t2")  # 14.67 > 7: re-armed
    ctl.ingest(reading("BIG", 60, "390"))  # 5.37 ... then below
    ctl.ingest(reading("BIG", 75, "395"))  # 4.00
    assert [a.kind for a in ctl.rows(alerts)] == ["low_balance", "low_balance"]


def test_zero_credit_queues_one_relay_open_and_alerts(ctl: Controlled) -> None:
    ctl.ingest(reading("BIG", 0, "0"), reading("BIG", 15, "400"))  # 100 - 109.36 < 0
    command, other = ctl.rows(meter_commands)  # both of A1's meters are cut
    assert other.meter_id == "M1"
    assert (command.meter_id, command.action, command.status) == ("BIG", "relay_open", "pending")
    assert command.expires_at == command.created_at + timedelta(hours=1)
    kinds = sorted(a.kind for a in ctl.rows(alerts))
    assert kinds == ["low_balance", "zero_credit", "zero_credit"]  # one per meter cut
    ctl.ingest(reading("BIG", 30, "401"))  # the commands are still waiting: no new ones
    assert len(ctl.rows(meter_commands)) == 2
    assert ctl.world.verify().violations == ()


def test_protected_accounts_and_friendly_hours_are_never_cut(world: World) -> None:
    night = FriendlySchedule("UTC", night_start=time(18), night_end=time(8))
    world.meter("BIG", "A1", max_power_kw=D(100_000))
    ctl = Controlled(world, ControlPolicy(alert_levels=(), friendly=night))
    ctl.ingest(reading("BIG", 0, "0"), reading("BIG", 15, "400"))  # 00:15 UTC: night
    assert ctl.rows(meter_commands) == []
    with world.uow() as uow:  # 2024-06-01 is a Saturday: friendly all weekend
        assert review_credit(uow, now=T0 + timedelta(hours=9), policy=ctl.policy) == 0
    monday = T0 + timedelta(days=2, hours=8, minutes=1)
    with world.uow() as uow:  # Monday after 08:00 the review disconnects
        assert review_credit(uow, now=monday, policy=ctl.policy) == 2
        uow.commit()
    assert [c.action for c in ctl.rows(meter_commands)] == ["relay_open", "relay_open"]
    world.account("P1", opening="1.00")
    world.meter("PM", "P1", max_power_kw=D(20))
    with world.engine.begin() as connection:
        connection.execute(account_controls.insert().values(
            account_id="P1", protected=True, alert_levels=None, alert_state=[],
            emergency_credit=D(0), debt=D(0), updated_at=T0,
        ))  # fmt: skip
    ctl.ingest(reading("PM", 600, "0"), reading("PM", 615, "5"))  # 1.00 - 1.37 < 0
    assert sorted(c.meter_id for c in ctl.rows(meter_commands)) == ["BIG", "M1"]


def test_top_up_repays_emergency_credit_then_recovers_debt_then_reconnects(
    ctl: Controlled, engine: Engine
) -> None:
    world = ctl.world
    world.account("E1", opening="0.50")
    world.meter("EM", "E1", max_power_kw=D(20))
    terms = EmergencyCreditTerms(amount=D(5), available_below=D(1))
    with world.uow() as uow:
        take_emergency_credit(uow, "E1", terms=terms, now=world.clock(), policy=ctl.policy)
        uow.commit()
    with world.uow() as uow, pytest.raises(ConflictError, match="emergency credit refused"):
        take_emergency_credit(uow, "E1", terms=terms, now=world.clock(), policy=ctl.policy)
    with engine.begin() as connection:
        connection.execute(update(account_controls).where(account_controls.c.account_id == "E1")
                           .values(debt=D(12)))  # fmt: skip
        connection.execute(update(meters).where(meters.c.id == "EM").values(relay="open"))
    ctl.top_up("20.00", "pay-1", account="E1")
    kinds = [(e.kind, e.amount) for e in world.entries("E1")]
    assert kinds == [
        ("emergency_credit", D("5")),
        ("top_up", D("20.00")),
        ("emergency_repayment", D("-5.00")),
        ("debt_recovery", D("-3.75")),  # 25 % of the 15.00 left
    ]
    assert world.balance("E1") == D("16.75")  # 0.50 + 5 + 20 - 5 - 3.75
    (controls,) = ctl.rows(account_controls, account_controls.c.account_id == "E1")
    assert (controls.emergency_credit, controls.debt) == (D(0), D("8.25"))
    assert [(c.meter_id, c.action) for c in ctl.rows(meter_commands)] == [("EM", "relay_close")]
    assert world.verify().violations == ()


def test_standing_charges_post_once_a_day_and_verify(world: World) -> None:
    world.tariff(dict(FLAT, tariff_id="sc", standing_charge_per_day="0.4567"))
    world.account("S1", tariff_id="sc", opening="10.00")
    world.meter("SM", "S1", max_power_kw=D(20))
    world.ingest(reading("SM", 0, "0"), reading("SM", 15, "1"))
    for _ in range(2):  # a second run posts nothing
        with world.uow() as uow:
            post_standing_charges(uow, date(2024, 6, 1), now=world.clock(), tariffs=world.cache)
            uow.commit()
    world.ingest(reading("SM", 30, "2"))
    kinds = [(e.kind, e.amount) for e in world.entries("S1")]
    assert kinds == [("deduction", D("-0.27")), ("standing_charge", D("-0.46")),
                     ("deduction", D("-0.27"))]  # fmt: skip
    report = world.verify()
    assert report.violations == ()
    assert report.deductions_recomputed == 3  # both deductions and the standing charge


def test_offline_meter_alerts_once_per_silence(ctl: Controlled) -> None:
    ctl.ingest(reading("M1", 0, "0"))
    later = T0 + timedelta(hours=2)
    for _ in range(2):
        with ctl.world.uow() as uow:
            detect_offline(uow, now=later, policy=ctl.policy)
            uow.commit()
    assert [a.kind for a in ctl.rows(alerts)] == ["meter_offline"]
    ctl.ingest(reading("M1", 180, "1"))
    with ctl.world.uow() as uow:
        assert detect_offline(uow, now=T0 + timedelta(hours=5), policy=ctl.policy) == 1
        uow.commit()


def test_tamper_raises_an_alert(ctl: Controlled) -> None:
    ctl.ingest(reading("M1", 0, "10", relay="open"), reading("M1", 15, "10.5", relay="open"))
    assert "tamper" in [a.kind for a in ctl.rows(alerts)]
