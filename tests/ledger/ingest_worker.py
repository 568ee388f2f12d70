"""A separate OS process that ingests readings or posts top-ups, for the concurrency tests.

    python -m tests.ledger.ingest_worker URL PLAN.json RESULT.json

The plan is JSON: {"readings": [[[meter_id, ts, kwh], ...], ...]} (one list per batch, one
transaction each) or {"top_ups": [[account_id, amount, reference], ...]} (one transaction each).
The worker connects and loads the tariffs, prints "ready", then runs one step (batch or top-up)
per "go" line on stdin and answers "done" after each commit. The test releases both workers
into every round together, so each round's two transactions contend for the same rows (on
SQLite a free-running writer starves the other one, which then only ever sees the end state).
The worker writes what each call returned to RESULT.json and exits 0; any error propagates
and exits non-zero (no retries: a deadlock or a unique violation is a failure the test sees).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.ledger.ingest import ReadingIn, record_readings
from gateway.ledger.tariffs import TariffCache
from gateway.ledger.topups import top_up
from gateway.storage.db import UnitOfWork, make_engine
from tests.ledger.world import T0

NOW = T0.replace(day=2)  # the workers' clock: a fixed instant after every reading


def ingest(url: str, batches: list[list[list[str]]]) -> list[list[Any]]:
    engine = make_engine(url)
    cache = TariffCache()
    with UnitOfWork(engine) as uow:  # connect and parse the tariffs before the first round
        cache.get_many(uow, {"flat", "tou"})
    results: list[list[Any]] = []
    print("ready", flush=True)  # noqa: T201 - the line protocol with the test
    for batch in batches:
        _wait_for_turn()
        readings = [ReadingIn(m, datetime.fromisoformat(ts), Decimal(kwh), source="worker")
                    for m, ts, kwh in batch]  # fmt: skip
        with UnitOfWork(engine) as uow:
            done = record_readings(uow, readings, now=NOW, tariffs=cache)
            uow.commit()
        results.extend(
            [r.meter_id, r.ts.isoformat(), r.outcome, r.reading_id, r.entry_id,
             None if r.charged is None else str(r.charged), r.duplicate]
            for r in done
        )  # fmt: skip
        print("done", flush=True)  # noqa: T201
    engine.dispose()
    return results


def top_ups(url: str, plan: list[list[str]]) -> list[list[Any]]:
    engine = make_engine(url)
    with engine.connect():  # open the pooled connection before the first round
        pass
    results: list[list[Any]] = []
    print("ready", flush=True)  # noqa: T201
    for account_id, amount, reference in plan:
        _wait_for_turn()
        with UnitOfWork(engine) as uow:
            posted = top_up(uow, account_id, Decimal(amount), reference, now=NOW)
            uow.commit()
        results.append([reference, posted.entry_id, str(posted.amount), posted.replayed])
        print("done", flush=True)  # noqa: T201
    engine.dispose()
    return results


def _wait_for_turn() -> None:
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("the test stopped sending turns")


def main(argv: list[str]) -> None:
    url, plan_path, result_path = argv
    plan = json.loads(Path(plan_path).read_text())
    results = ingest(url, plan["readings"]) if "readings" in plan else top_ups(url, plan["top_ups"])
    Path(result_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
