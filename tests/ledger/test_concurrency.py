"""Two OS processes on one database: no double deduction, no lost update, no double credit.

Each worker (tests/ledger/ingest_worker.py) connects, prints "ready" and waits; both are
released by one line on their stdin, so their transactions really interleave. The readings
they share reach the ledger once; each worker gets the same (original) result for them.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from gateway.core.deduction import MeterReading
from gateway.core.rating import rate_interval
from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version
from gateway.storage.schema import readings
from tests.dbs import engine_for, fresh_database
from tests.ledger.world import FLAT, T0, TOU, World

ROOT = Path(__file__).resolve().parents[2]
METERS = 20
READINGS = 60  # per meter, 15 minutes apart: 15 hours across the 06:00 band change
OPENING = Decimal("500.00")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

Series = dict[str, list[tuple[str, str]]]  # meter -> [(ts, kwh)] in time order


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as database_url:
        yield database_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = engine_for(url)
    yield engine
    engine.dispose()


def _meter(index: int) -> str:
    return f"M{index:02d}"


def _tariff_of(index: int) -> str:
    return "flat" if index % 2 == 0 else "tou"


def _setup(world: World) -> None:
    world.tariff(FLAT)
    world.tariff(TOU)
    for index in range(METERS):
        world.account(f"A{index:02d}", _tariff_of(index), opening=str(OPENING))
        world.meter(_meter(index), f"A{index:02d}")


def _series(rng: random.Random) -> Series:
    """Increasing registers, 0-3 kWh per 15 minutes: the TOU accounts pass the 100 kWh tier."""
    series: Series = {}
    for index in range(METERS):
        kwh = Decimal(1000 + 37 * index)
        points = []
        for step in range(READINGS):
            points.append(((T0 + timedelta(minutes=15 * step)).isoformat(), str(kwh)))
            kwh += Decimal(rng.randint(0, 3000)) / 1000
        series[_meter(index)] = points
    return series


def _batches(items: list[list[str]], size: int) -> list[list[list[str]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _plans(series: Series, rng: random.Random) -> tuple[list[list[list[str]]], ...]:
    """Worker 1: time order, batches of 37; meters 0, 3, 6... stop after 50 readings.
    Worker 2: a shuffle that keeps each meter's order, batches of 50; meters 1, 4, 7... stop
    after 45. Its shuffle is skewed (M19 runs ahead of the clock, M00 behind), so whichever
    worker gets the lock more often, each soon meets readings the other stored. Each worker's
    part of a meter's series is a prefix, so neither ever sends a reading older than one the
    other has already stored (that would be out of order, stored but never charged)."""
    first_limit = {m: 50 if i % 3 == 0 else READINGS for i, m in enumerate(series)}
    second_limit = {m: 45 if i % 3 == 1 else READINGS for i, m in enumerate(series)}
    forward = [[m, ts, kwh] for step in range(READINGS) for m, points in series.items()
               if step < first_limit[m] for ts, kwh in [points[step]]]  # fmt: skip
    keyed = []
    for index, meter in enumerate(series):
        keys = sorted(rng.uniform(0, READINGS) - 3 * index for _ in range(second_limit[meter]))
        keyed += [(key, meter, *series[meter][step]) for step, key in enumerate(keys)]
    shuffled = [[meter, ts, kwh] for _, meter, ts, kwh in sorted(keyed)]
    return _batches(forward, 37), _batches(shuffled, 50)


def _run_together(url: str, plans: list[dict[str, Any]], tmp_path: Path) -> list[list[Any]]:
    """One worker process per plan, released together into every round (one step each, the
    release order alternating); returns what each worker's calls returned."""
    workers = []
    for number, plan in enumerate(plans):
        plan_path, result_path = tmp_path / f"plan{number}.json", tmp_path / f"result{number}.json"
        plan_path.write_text(json.dumps(plan))
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.ingest_worker", url, str(plan_path),
             str(result_path)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        workers.append((process, len(next(iter(plan.values())))))
    try:
        for process, _ in workers:
            _expect(process, "ready")
        for turn in range(max(steps for _, steps in workers)):
            due = [process for process, steps in workers if turn < steps]
            for process in due if turn % 2 == 0 else due[::-1]:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            for process in due:
                _expect(process, "done")
        for process, _ in workers:
            _, stderr = process.communicate(timeout=30)
            assert process.returncode == 0, stderr
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [json.loads((tmp_path / f"result{n}.json").read_text()) for n in range(len(plans))]


def _expect(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdout is not None
    if process.stdout.readline().strip() != line:
        process.kill()
        pytest.fail(f"worker failed: {process.communicate(timeout=30)[1]}")


def _expected_charge(index: int, points: list[tuple[str, str]]) -> Decimal:
    """Flat: price x total kWh, rounded once (one cycle). TOU: the core rated interval by
    interval with the cycle threaded through, as if one process had ingested in order."""
    kwh = [Decimal(value) for _, value in points]
    if _tariff_of(index) == "flat":
        total = Decimal(FLAT["price_per_kwh"]) * (kwh[-1] - kwh[0])
        return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    tariff = Tariff((parse_tariff_version(TOU),))
    readings = [MeterReading(T0 + timedelta(minutes=15 * i), value) for i, value in enumerate(kwh)]
    cycle, charged = None, Decimal(0)
    for previous, current in itertools.pairwise(readings):
        deduction = rate_interval(previous, current, tariff, cycle)
        cycle, charged = deduction.cycle, charged + deduction.amount
    return charged


def test_two_processes_ingesting_overlapping_batches_charge_each_interval_once(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    world = World(engine)
    _setup(world)
    rng = random.Random(20240601)
    series = _series(rng)
    first, second = _plans(series, rng)
    got = _run_together(url, [{"readings": first}, {"readings": second}], tmp_path)

    # Every reading was answered; each (meter, time) was new to exactly one worker, and both
    # workers got the same reading, entry and charge for it.
    answers: dict[tuple[str, str], list[list[Any]]] = {}
    for results in got:
        for row in results:
            answers.setdefault((row[0], row[1]), []).append(row)
    assert len(answers) == METERS * READINGS
    for key, rows in answers.items():
        assert [row[6] for row in rows].count(False) == 1, key
        assert len({(row[2], row[3], row[4], row[5]) for row in rows}) == 1, rows
        assert rows[0][2] == "accepted", rows
    duplicates = [sum(row[6] for row in results) for results in got]
    shown = f"answers per worker {[len(r) for r in got]}, of them duplicates {duplicates}"
    print(f"\n{url.partition(':')[0]}: {shown}")  # noqa: T201 - the overlap, seen with -s
    assert all(count > 0 for count in duplicates), "the workers did not overlap"

    for index, meter in enumerate(series):
        stored = world.readings(meter)
        assert [(r.ts.isoformat(), format(r.raw_kwh, "f")) for r in stored] == series[meter]
        assert {r.outcome for r in stored} == {"accepted"}
        entries = world.entries(f"A{index:02d}")
        assert [e.kind for e in entries] == ["deduction"] * (READINGS - 1)
        assert [(e.prev_reading_id, e.reading_id) for e in entries] == [
            (a.id, b.id) for a, b in itertools.pairwise(stored)
        ]
        expected = _expected_charge(index, series[meter])
        assert -sum(e.amount for e in entries) == expected
        assert world.balance(f"A{index:02d}") == OPENING - expected, meter
    with engine.connect() as connection:
        stored_twice = connection.execute(
            select(readings.c.meter_id, readings.c.ts)
            .group_by(readings.c.meter_id, readings.c.ts)
            .having(func.count() > 1)
        ).all()
        total = connection.execute(select(func.count()).select_from(readings)).scalar_one()
    assert (stored_twice, total) == ([], METERS * READINGS)
    report = world.verify()
    assert report.violations == ()
    assert report.deductions_recomputed == METERS * (READINGS - 1)


def test_two_processes_posting_the_same_top_ups_credit_each_reference_once(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    world = World(engine)
    world.tariff(FLAT)
    world.account("A00", opening="0.00")
    plan = [["A00", f"{number + 1}.25", f"pay-{number:02d}"] for number in range(40)]
    # Rounds 0-19: both post the same reference at once. Rounds 20-39: the second worker swaps
    # each pair, so whichever wins a round, each worker meets a reference the other posted.
    swapped = plan[:20] + [plan[n ^ 1] for n in range(20, 40)]
    got = _run_together(url, [{"top_ups": plan}, {"top_ups": swapped}], tmp_path)

    by_reference: dict[str, list[list[Any]]] = {}
    for results in got:
        for reference, entry_id, amount, replayed in results:
            by_reference.setdefault(reference, []).append([entry_id, amount, replayed])
    for reference, rows in by_reference.items():
        assert len({row[0] for row in rows}) == 1, reference  # both were told the same entry
        assert [row[2] for row in rows].count(False) == 1, reference  # and one of them posted
    replays = [sum(row[3] for row in results) for results in got]
    print(f"\n{url.partition(':')[0]}: top-ups replayed per worker {replays}")  # noqa: T201
    assert all(count > 0 for count in replays), "the workers did not overlap"

    entries = world.entries("A00")
    assert sorted(e.external_ref for e in entries) == sorted(row[2] for row in plan)
    assert {e.kind for e in entries} == {"top_up"}
    assert world.balance("A00") == sum(Decimal(row[1]) for row in plan)
    assert world.verify().violations == ()
