"""A stateful property test: duplicates, reorderings, rollovers, exchanges, spikes, tariff
changes and top-ups thrown at the ledger; every invariant checked after every step."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateway.core.errors import TariffError
from gateway.core.money import round_money
from gateway.ledger.errors import ConflictError
from gateway.ledger.ingest import ReadingIn
from tests.dbs import BACKENDS, engine_for, fresh_database
from tests.ledger.world import FLAT, T0, World

D = Decimal
CENT = D("0.01")
MODULUS = D(1000)
steps_kwh = st.decimals(min_value=0, max_value=3, places=2)
half_steps = st.decimals(min_value=0, max_value=D("2.5"), places=2)  # two within 20 kW
gaps_min = st.sampled_from([15, 15, 15, 30, 60, 180, 1440])


class LedgerMachine(RuleBasedStateMachine):
    backend = "sqlite"

    @initialize()
    def setup(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self._db = fresh_database(self.backend, Path(self._tmp.name))
        self.engine = engine_for(self._db.__enter__())
        self.world = World(self.engine)
        self.world.tariff(FLAT)
        self.world.account("A", opening="50.00")
        self.world.meter("M", "A", register_modulus_kwh=MODULUS, max_power_kw=D(20))
        self.ts = T0
        self.raw = D("990")  # close to the modulus so rollovers come naturally
        self.sent: dict[object, ReadingIn] = {}
        self.expected_kwh = D(0)
        self.top_ups: dict[str, D] = {}
        self.versions = 1
        self.effective: set[object] = set()
        self.world.ingest(self._reading(self.ts, self.raw))

    def teardown(self) -> None:
        self.engine.dispose()
        self._db.__exit__(None, None, None)
        self._tmp.cleanup()

    def _reading(self, ts: object, raw: D) -> ReadingIn:
        reading = ReadingIn("M", ts, raw)  # type: ignore[arg-type]
        self.sent[ts] = reading
        return reading

    @rule(step=steps_kwh, gap=gaps_min)
    def advance(self, step: D, gap: int) -> None:
        self.ts += timedelta(minutes=gap)
        new_raw = self.raw + step
        wrapped = new_raw >= MODULUS
        if wrapped:
            new_raw -= MODULUS
        (result,) = self.world.ingest(self._reading(self.ts, new_raw))
        assert result.outcome == "accepted", result.reason
        assert ("rollover" in result.flags) == wrapped
        self.raw, self.expected_kwh = new_raw, self.expected_kwh + step

    @precondition(lambda self: len(self.sent) > 1)
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        ts = data.draw(st.sampled_from(sorted(self.sent)))  # type: ignore[type-var]
        entries = len(self.world.entries("A"))
        (result,) = self.world.ingest(self.sent[ts])
        assert result.duplicate
        assert len(self.world.entries("A")) == entries

    @precondition(lambda self: len(self.sent) > 1)
    @rule(data=st.data())
    def conflict(self, data: st.DataObject) -> None:
        ts = data.draw(st.sampled_from(sorted(self.sent)))  # type: ignore[type-var]
        (result,) = self.world.ingest(ReadingIn("M", ts, self.sent[ts].energy_kwh + D("0.5")))
        assert result.outcome == "quarantined"

    @rule(back=st.integers(min_value=1, max_value=14))
    def late(self, back: int) -> None:
        ts = self.ts - timedelta(minutes=back)
        if ts in self.sent:
            return
        (result,) = self.world.ingest(self._reading(ts, self.raw))
        assert result.outcome == "out_of_order"

    @rule(jump=st.integers(min_value=50, max_value=400))
    def spike(self, jump: int) -> None:
        ts = self.ts + timedelta(minutes=7)  # before any later reading's time
        if ts in self.sent:
            return
        (result,) = self.world.ingest(self._reading(ts, (self.raw + jump) % MODULUS))
        assert result.outcome == "quarantined"
        assert "20 kW" in result.reason

    @rule(removal_step=half_steps, opening=st.decimals(0, 50, places=2), step=half_steps)
    def exchange(self, removal_step: D, opening: D, step: D) -> None:
        at = self.ts + timedelta(minutes=10)
        removal = self.raw + removal_step
        self.world.exchange("M", at, removal=str(removal), opening=str(opening))
        self.ts += timedelta(minutes=15)
        (result,) = self.world.ingest(self._reading(self.ts, opening + step))
        assert result.outcome == "accepted", result.reason
        assert "exchange" in result.flags
        self.raw, self.expected_kwh = opening + step, self.expected_kwh + removal_step + step

    @rule(price=st.decimals(min_value=D("0.05"), max_value=D("0.9"), places=4),
          after=st.integers(min_value=1, max_value=48))  # fmt: skip
    def tariff_change(self, price: D, after: int) -> None:
        effective = self.ts + timedelta(hours=after)
        document = dict(FLAT, version=self.versions + 1, price_per_kwh=str(price),
                        effective_from=effective.isoformat())  # fmt: skip
        if effective in self.effective:
            with pytest.raises(TariffError, match="two versions take effect at once"):
                self.world.tariff(document)
            return
        self.world.tariff(document)
        self.versions += 1
        self.effective.add(effective)

    @rule(amount=st.integers(min_value=1, max_value=50), reference=st.sampled_from("abcdef"))
    def top_up(self, amount: int, reference: str) -> None:
        value = D(amount)
        if reference in self.top_ups and self.top_ups[reference] != value:
            with pytest.raises(ConflictError):
                self.world.top_up("A", str(value), reference)
            return
        posted = self.world.top_up("A", str(value), reference)
        assert posted.replayed == (reference in self.top_ups)
        self.top_ups[reference] = value

    @invariant()
    def ledger_is_whole(self) -> None:
        if not hasattr(self, "world"):
            return
        assert self.world.verify().violations == ()
        entries = self.world.entries("A")
        deductions = [e for e in entries if e.kind == "deduction"]
        assert sum((e.energy_kwh for e in deductions), D(0)) == self.expected_kwh
        credits = sum((e.amount for e in entries if e.kind == "top_up"), D(0))
        assert credits == sum(self.top_ups.values(), D(0))
        charged = sum((e.amount for e in deductions), D(0))
        assert self.world.balance("A") == D("50.00") + credits + charged
        exact: dict[str, D] = defaultdict(D)
        for entry in deductions:
            for line in entry.details["lines"]:
                exact[line["cycle_start"]] += D(line["amount"])
        assert -charged == sum((round_money(v, CENT) for v in exact.values()), D(0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ledger_state_machine(backend: str) -> None:
    machine = type(f"LedgerMachine_{backend}", (LedgerMachine,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20 if backend == "postgresql" else 60,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
