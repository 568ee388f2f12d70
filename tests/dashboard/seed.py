"""A small, lifelike network for the dashboard: four accounts, four meters, two days of hourly
readings with an evening peak, a top-up, a low balance, a silent meter and an open relay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update

from gateway.core.alerts import AlertLevel, LevelKind
from gateway.core.credit import EmergencyCreditTerms
from gateway.ledger import operations
from gateway.ledger.controls import ControlPolicy
from gateway.ledger.ingest import ReadingIn, record_readings
from gateway.ledger.jobs import detect_offline
from gateway.ledger.topups import take_emergency_credit, top_up
from gateway.queries.alerts import list_alerts
from gateway.storage.schema import meters
from tests.ledger.world import FLAT, T0, TOU, World

POLICY = ControlPolicy(alert_levels=(AlertLevel(LevelKind.MONEY, Decimal(5), Decimal(2)),))
EMERGENCY = EmergencyCreditTerms(amount=Decimal(5), available_below=Decimal(5))
HOURS = 48
# kWh per hour through a day: night base load, a morning bump, an evening peak
PROFILE = (
    "0.30", "0.25", "0.25", "0.25", "0.30", "0.45", "0.90", "1.20", "0.85", "0.60", "0.55",
    "0.60", "0.70", "0.60", "0.55", "0.60", "0.80", "1.30", "1.85", "2.10", "1.70", "1.20",
    "0.75", "0.45",
)  # fmt: skip
NOW = T0 + timedelta(hours=HOURS, minutes=10)


def hourly(meter_id: str, start_kwh: str, hours: int, scale: str = "1") -> list[ReadingIn]:
    register = Decimal(start_kwh)
    batch = [ReadingIn(meter_id, T0, register)]
    for hour in range(1, hours + 1):
        register += Decimal(PROFILE[(hour - 1) % 24]) * Decimal(scale)
        batch.append(ReadingIn(meter_id, T0 + timedelta(hours=hour), register))
    return batch


def seed(world: World) -> None:
    """Build the network on `world`; its clock ends at NOW."""
    world.tariff(FLAT)
    world.tariff(TOU)
    world.account("ACC-1001", opening="30.00")
    world.account("ACC-1002", tariff_id="tou", opening="23.00")
    world.account("ACC-1003", opening="5.80")
    world.account("ACC-1004", opening="50.00")
    for number in ("1001", "1002", "1003", "1004"):
        world.meter(f"M-{number}", f"ACC-{number}", expected_interval=timedelta(hours=1))
    with world.uow() as uow:
        operations.record_commissioning(uow, "M-1001", passed=True, report={"checks": []},
                                        now=world.clock())  # fmt: skip
        operations.record_commissioning(uow, "M-1002", passed=True, report={"checks": []},
                                        now=world.clock())  # fmt: skip
        operations.record_commissioning(uow, "M-1003", passed=False, report={"checks": []},
                                        now=world.clock())  # fmt: skip
        uow.commit()
    for hour in range(HOURS):  # one batch per hour, as the runtime would post them
        world.clock.now = T0 + timedelta(hours=hour, minutes=5)
        batch = [r for r in hourly("M-1001", "1520.25", HOURS) if r.ts <= world.clock.now]
        batch += [r for r in hourly("M-1002", "864.10", HOURS, "1.4") if r.ts <= world.clock.now]
        batch += [r for r in hourly("M-1003", "77.00", 6, "2") if r.ts <= world.clock.now]
        _ingest(world, batch)
        if hour == 26:
            _top_up(world, "ACC-1001", "20.00", "pay-20240602-0117")
    world.clock.now = NOW
    _ingest(world, hourly("M-1001", "1520.25", HOURS) + hourly("M-1002", "864.10", HOURS, "1.4"))
    with world.uow() as uow:
        detect_offline(uow, now=world.clock(), policy=POLICY)
        # the relay dispatcher's confirmation: M-1003 was disconnected
        uow.connection.execute(update(meters).where(meters.c.id == "M-1003").values(relay="open"))
        take_emergency_credit(uow, "ACC-1002", terms=EMERGENCY, now=world.clock(), policy=POLICY)
        (first,) = list_alerts(uow, account_id="ACC-1003", kind="low_balance")
        operations.acknowledge_alert(uow, first.id, by="ops-alice", now=world.clock())
        uow.commit()


def _ingest(world: World, batch: list[ReadingIn]) -> None:
    with world.uow() as uow:
        record_readings(uow, batch, now=world.clock(), tariffs=world.cache, policy=POLICY)
        uow.commit()


def _top_up(world: World, account_id: str, amount: str, reference: str) -> None:
    with world.uow() as uow:
        top_up(uow, account_id, Decimal(amount), reference, now=world.clock(), policy=POLICY)
        uow.commit()
