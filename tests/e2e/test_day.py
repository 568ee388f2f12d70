"""A simulated day through the running gateway, checked against an independent calculation.

`prepaid-gateway run --config` (its own process) takes MQTT meters, a concentrator and a
Modbus TCP meter through the real broker and simulator, into the ledger, on SQLite and
PostgreSQL. One reading is 12 simulated minutes, one tick is 0.1 s: about a simulated day
in 12-15 s. The story account runs out of credit: low-balance alerts arrive on
`accounts/{id}/alerts`, then a relay_open command reaches its meter, which acks and stops
consuming; a top-up reconnects it. At the end every balance equals opening + top-ups -
price x the meter's true kWh (rounded once for the cycle), and `verify_ledger` passes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from gateway.ledger.topups import top_up
from gateway.runtime.config import load_config
from gateway.runtime.policy import control_policy
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import anomalies, readings
from tests.e2e.conftest import (
    LEVELS,
    ORIGIN,
    Fleet,
    alert_rows,
    commands_of,
    flat_charge,
    gateway_config,
    reading_count,
    register_kwh,
    relay_of,
    rows,
    undelivered,
    url_of,
    wait_until,
)
from tests.ledger.world import World
from tests.mqtt.conftest import unique

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

STEP = timedelta(minutes=12)  # simulated time per reading
TICK_S = 0.1  # real time per reading: 7,200x, a simulated day in 12 s
MIN_TICKS, TICKS_AFTER_RECONNECT = 120, 25
TOP_UP = Decimal("20.00")
MODBUS_POWER_W, MODBUS_ACCELERATION = Decimal(3600), 20  # 72 kW apparent: under the 100 kW limit


def expected_low_balance(final: Decimal, *, topped_up_from_zero: bool) -> Counter[str]:
    """Low-balance alerts per level for a balance that only falls (the deductions), except for
    one top-up made at zero that lifts it above every level + margin (re-arming them all)."""
    fired: Counter[str] = Counter()
    for level in LEVELS:
        key = f"money:{level}"
        fired[key] += int(topped_up_from_zero) + int(final < level)
    return +fired


def assert_alerts(
    engine: Any, finals: dict[str, Decimal], top_ups: dict[str, Decimal], listener: Any
) -> None:
    """Per account, the alerts the balances call for, each also received on MQTT."""
    raised = alert_rows(engine)
    by_account: dict[str, Counter[str]] = {}
    for row in raised:
        key = row.level if row.kind == "low_balance" else row.kind
        by_account.setdefault(row.account_id, Counter())[key] += 1
    for account_id, final in finals.items():
        expected = expected_low_balance(final, topped_up_from_zero=account_id in top_ups)
        if account_id in top_ups:
            expected["zero_credit"] = 1
        assert by_account.get(account_id, Counter()) == expected, account_id
    received = {p["alert_id"]: p for p in listener.received()}
    for row in raised:
        payload = received[row.id]
        assert (payload["account_id"], payload["kind"], payload["level"]) == (
            row.account_id,
            row.kind,
            row.level,
        )


def alert_count(engine: Any, account_id: str) -> int:
    return sum(1 for row in alert_rows(engine) if row.account_id == account_id)


def test_a_simulated_day_balances_alerts_and_relay_commands(
    broker: Any, world: World, gateways: Any, modbus_simulators: Any, alert_listener: Any
) -> None:
    tag = unique("day")
    story, plain, low = f"{tag}-M1", f"{tag}-M2", f"{tag}-M3"
    opening = {story: Decimal("8.00"), plain: Decimal("100.00"), low: Decimal("16.00")}
    powers = {story: Decimal(3000), plain: Decimal(1000), low: Decimal(1500)}
    fleet = Fleet(broker.port, powers, step=STEP, tick_s=TICK_S,
                  concentrator=(f"{tag}-DCU", f"{tag}-D", 3, Decimal(500)))  # fmt: skip
    for state in fleet.dcu_states:
        opening[state.meter_id] = Decimal("50.00")
    modbus_meter = f"{tag}-P1"
    opening[modbus_meter] = Decimal("100.00")
    for meter_id, amount in opening.items():
        world.account(f"A-{meter_id}", opening=str(amount))
        installed = datetime.now(UTC) if meter_id == modbus_meter else ORIGIN
        world.meter(
            meter_id, f"A-{meter_id}", installed_at=installed, install_reading_kwh=Decimal(0)
        )

    simulator = modbus_simulators(MODBUS_POWER_W, MODBUS_ACCELERATION)
    meters = [{"meter_id": modbus_meter, "unit": 1, "model": "prepaid-v1", "poll_interval_s": 0.5}]
    link = {"kind": "tcp", "host": "127.0.0.1", "port": simulator.port, "timeout_s": 0.5,
            "retries": 0, "meters": meters}  # fmt: skip
    engine = world.engine
    gateway = gateways(gateway_config(url_of(engine), broker.port, [link]))
    gateway.start()
    meter = fleet.meters[story]
    try:
        fleet.start(max_ticks=10_000)
        # 1. Credit runs low: one alert per level, on the account's MQTT topic.
        wait_until(lambda: len(alert_listener.received(f"A-{story}")) >= 2, 20, "2 low alerts")
        # 2. Zero: relay_open delivered to the meter, acked, confirmed; the meter stops.
        wait_until(lambda: meter.state.relay == "open", 20, "the story meter's relay opened")
        opened_at = meter.state.started_at  # meter time of the switch (its last reading)
        wait_until(lambda: relay_of(engine, story) == "open", 10, "meters.relay = open")
        [command] = commands_of(engine, story)
        assert (command.action, command.status) == ("relay_open", "confirmed")
        # 3. A top-up (the ledger service, with the gateway's own credit-control policy).
        policy = control_policy(load_config(gateway.path))
        for _ in range(2):  # the payer retries: the same reference is one top-up
            with UnitOfWork(engine) as uow:
                top_up(uow, f"A-{story}", TOP_UP, f"{tag}-pay-1", now=datetime.now(UTC),
                       policy=policy)  # fmt: skip
                uow.commit()
        wait_until(lambda: meter.state.relay == "closed", 20, "the story meter reconnected")
        closed_at = meter.state.started_at
        wait_until(lambda: relay_of(engine, story) == "closed", 10, "meters.relay = closed")
        reconnect_tick = fleet.ticks
        wait_until(
            lambda: fleet.ticks >= max(MIN_TICKS, reconnect_tick + TICKS_AFTER_RECONNECT),
            60, "the rest of the day published",
        )  # fmt: skip
        fleet.stop()
        published = {meter_id: len(fleet.times(meter_id)) for meter_id in fleet.states()}
        for meter_id, count in published.items():
            wait_until(lambda m=meter_id, n=count: reading_count(engine, m) == n, 20,  # type: ignore[misc]
                       f"{count} readings of {meter_id} stored")  # fmt: skip
        wait_until(lambda: reading_count(engine, modbus_meter) >= 5, 10, "5 Modbus readings")
        wait_until(lambda: undelivered(engine) == 0, 20, "every outbox row delivered")
        ids = {row.id for row in alert_rows(engine)}
        wait_until(lambda: ids <= alert_listener.alert_ids(), 10, "every alert on MQTT")
        assert gateway.terminate() == 0, gateway.output()[-4000:]
    finally:
        fleet.close()
        gateway.kill()

    # The money, computed without the ledger: price x the meters' true kWh, rounded once.
    top_ups = {f"A-{story}": TOP_UP}
    finals: dict[str, Decimal] = {}
    for meter_id, state in fleet.states().items():
        last_ts = fleet.times(meter_id)[-1]
        if meter_id == story:  # consumed until the relay opened, and again once it closed
            kwh = register_kwh(state.power_w, last_ts - closed_at,
                               register_kwh(state.power_w, opened_at - ORIGIN))  # fmt: skip
        else:
            kwh = register_kwh(state.power_w, last_ts - ORIGIN)
        assert kwh == state.energy_kwh_at(last_ts), meter_id  # the simulator agrees
        account_id = f"A-{meter_id}"
        finals[account_id] = opening[meter_id] + top_ups.get(account_id, 0) - flat_charge(kwh)
        assert world.balance(account_id) == finals[account_id], meter_id
    # The Modbus meter: read at wall-clock time; its truth is power x (accelerated) real time.
    last = world.readings(modbus_meter)[-1]
    low_kwh, high_kwh = simulator.energy_bounds_kwh(last.ts)
    step = Decimal("0.01")  # the register shows whole 0.01 kWh steps, rounded down
    assert low_kwh - step <= last.raw_kwh <= high_kwh, (low_kwh, last.raw_kwh, high_kwh)
    finals[f"A-{modbus_meter}"] = opening[modbus_meter] - flat_charge(last.raw_kwh)
    assert world.balance(f"A-{modbus_meter}") == finals[f"A-{modbus_meter}"]
    assert finals[f"A-{modbus_meter}"] < opening[modbus_meter]

    # Readings: all accepted once, no anomaly; the open relay drew nothing.
    stored = rows(engine, select(readings.c.meter_id, readings.c.outcome, readings.c.flags))
    assert {row.outcome for row in stored} == {"accepted"}
    assert rows(engine, select(anomalies)) == []
    story_readings = world.readings(story)
    while_open = [r.raw_kwh for r in story_readings if opened_at <= r.ts <= closed_at]
    assert len(while_open) >= 2
    assert len(set(while_open)) == 1

    # Alerts: one per downward crossing, each delivered on MQTT; commands confirmed.
    assert_alerts(engine, finals, top_ups, alert_listener)
    assert alert_count(engine, f"A-{low}")  # the low account crossed at least one level
    opened, closed = commands_of(engine, story)
    assert (opened.action, opened.status) == ("relay_open", "confirmed")
    assert (closed.action, closed.status) == ("relay_close", "confirmed")
    assert relay_of(engine, story) == "closed"
    for meter_id in fleet.states():
        if meter_id != story:
            assert commands_of(engine, meter_id) == []
    assert world.verify().violations == ()
