"""kill -9 the running gateway again and again while meters publish: nothing lost or doubled.

`prepaid-gateway run --config` is SIGKILLed at random moments (4 times) while MQTT meters and
a concentrator publish a stream (QoS 1), and restarted each time with the same config, so the
broker hands the unacked readings to the next start. At the end every reading is stored
exactly once, every balance equals the independent calculation, each low-balance crossing
raised exactly one alert, every alert was delivered on MQTT at least once, and the ledger
verifies. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.storage.schema import outbox, readings
from tests.e2e.conftest import (
    LEVELS,
    ORIGIN,
    Fleet,
    alert_rows,
    flat_charge,
    gateway_config,
    reading_count,
    register_kwh,
    rows,
    undelivered,
    url_of,
    wait_until,
)
from tests.ledger.world import World
from tests.mqtt.conftest import unique

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

STEP = timedelta(minutes=5)
TICK_S = 0.06
TICKS = 150  # x 16 meters = 2,400 readings, 12.5 simulated hours
KILLS = 4


def release_leases(engine: Any) -> int:
    """Rows a killed gateway claimed but never marked delivered wait out the dispatcher's
    300 s lease before they are sent again; the test moves that moment to now."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        result = connection.execute(
            update(outbox)
            .where(outbox.c.delivered_at.is_(None), outbox.c.next_attempt_at > now)
            .values(next_attempt_at=now)
        )
    return int(result.rowcount)


def test_repeated_kill_9_loses_and_doubles_nothing(
    broker: Any, world: World, gateways: Any, alert_listener: Any
) -> None:
    seed = int(os.environ.get("E2E_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    tag = unique("crash")
    powers = {f"{tag}-K{i}": Decimal(1500 + 500 * i) for i in range(1, 5)}
    fleet = Fleet(broker.port, powers, step=STEP, tick_s=TICK_S,
                  concentrator=(f"{tag}-DCU", f"{tag}-D", 12, Decimal(733)))  # fmt: skip
    opening = dict(zip(powers, (Decimal(11), Decimal(12), Decimal(14), Decimal(100)), strict=True))
    for index, state in enumerate(fleet.dcu_states, start=1):
        opening[state.meter_id] = Decimal(5) + Decimal("0.5") * index
    for meter_id, amount in opening.items():
        world.account(f"A-{meter_id}", opening=str(amount))
        world.meter(meter_id, f"A-{meter_id}", installed_at=ORIGIN, install_reading_kwh=Decimal(0))
    engine = world.engine
    total = TICKS * len(opening)
    config = gateway_config(url_of(engine), broker.port, [])
    gateway = gateways(config)
    gateway.start()
    stored_at_kill: list[int] = []
    try:
        fleet.start(max_ticks=TICKS)
        for target in sorted(rng.sample(range(total // 10, total * 7 // 10), KILLS)):
            wait_until(lambda t=target: reading_count(engine) >= t, 30,  # type: ignore[misc]
                       f"{target} readings stored (seed {seed})")  # fmt: skip
            time.sleep(rng.uniform(0, 0.05))  # a random moment inside the next commit
            gateway.kill()
            stored_at_kill.append(reading_count(engine))
            gateway.start()
        fleet.wait_stopped(60)
        wait_until(lambda: reading_count(engine) == total, 60, f"all readings (seed {seed})")
        released = release_leases(engine)
        wait_until(lambda: undelivered(engine) == 0, 20, "every outbox row delivered")
        ids = {row.id for row in alert_rows(engine)}
        wait_until(lambda: ids <= alert_listener.alert_ids(), 10, "every alert on MQTT")
        assert gateway.terminate() == 0, gateway.output()[-4000:]
    finally:
        fleet.close()
        gateway.kill()
    assert len(stored_at_kill) == KILLS
    assert stored_at_kill[0] < total, f"the first kill came too late (seed {seed})"

    # Every reading stored exactly once.
    stored = rows(engine, select(readings.c.meter_id, readings.c.ts, readings.c.outcome))
    keys = [(row.meter_id, row.ts) for row in stored]
    published = {(m, ts) for m in fleet.states() for ts in fleet.times(m)}
    assert len(keys) == len(set(keys)) == total, f"seed {seed}"
    assert set(keys) == published
    assert {row.outcome for row in stored} <= {"accepted", "out_of_order"}

    # Balances: opening - price x the meter's true kWh, rounded once for the cycle.
    finals: dict[str, Decimal] = {}
    for meter_id, state in fleet.states().items():
        last_ts = fleet.times(meter_id)[-1]
        kwh = register_kwh(state.power_w, last_ts - ORIGIN)
        assert kwh == state.energy_kwh_at(last_ts)
        finals[f"A-{meter_id}"] = opening[meter_id] - flat_charge(kwh)
        assert world.balance(f"A-{meter_id}") == finals[f"A-{meter_id}"], (meter_id, seed)

    # Alerts: exactly one per downward crossing (balances only fall here), none other; each
    # delivered on MQTT at least once (a re-send after a kill carries the same alert id).
    raised = alert_rows(engine)
    by_account: dict[str, Counter[str]] = {}
    for row in raised:
        by_account.setdefault(row.account_id, Counter())[f"{row.kind}/{row.level}"] += 1
    for account_id, final in finals.items():
        expected = Counter({f"low_balance/money:{lv}": 1 for lv in LEVELS if final < lv})
        assert by_account.get(account_id, Counter()) == expected, (account_id, seed)
    assert len(raised) >= 2 * KILLS  # enough crossings to straddle the kills
    received = alert_listener.received()
    assert {p["alert_id"] for p in received} == {row.id for row in raised}
    assert len(received) >= len(raised)
    assert world.verify().violations == ()
    print(f"seed {seed}: stored at kills {stored_at_kill}, {len(raised)} alerts, "  # noqa: T201
          f"{len(received)} alert messages, {released} leased outbox rows released")  # fmt: skip
